import { createServer, type IncomingMessage, type Server } from 'node:http';
import Stripe from 'stripe';

/**
 * A local Stripe-compatible server for tests: the calls Hearth makes (products, prices, customers,
 * Checkout Sessions, the billing portal, subscriptions), kept in memory. A checkout page completes
 * the session, creates the subscription, and posts the webhooks Stripe would, signed with
 * stripe.webhooks.generateTestHeaderString, to `webhookUrl`.
 *
 * Where it matters it behaves like Stripe:
 * - Idempotency: a POST with a key already used answers the first response again (with
 *   `Idempotent-Replayed: true`) when the endpoint and parameters are the same, and a 400
 *   `idempotency_error` when they differ.
 * - Lists (`GET /v1/subscriptions`): newest first, `limit` (10 by default, 100 at most),
 *   `starting_after`/`has_more`, the `price`, `customer` and `status` filters (no status: every
 *   subscription not canceled; `all`; `ended`), and `expand[]=data.customer`.
 * - A missing object is a 404 `resource_missing`.
 * - Coupons (`percent_off` 0–100 or `amount_off` with `currency`; `duration` once/repeating/forever,
 *   `duration_in_months` only and always with repeating; `redeem_by` in the future) and promotion
 *   codes (`promotion[coupon]`, a `code` unique among active codes, `max_redemptions`, `expires_at`,
 *   `restrictions[first_time_transaction]`), refused with Stripe's messages.
 * - Checkout: `discounts` (one coupon or promotion code; not together with `allow_promotion_codes`),
 *   `subscription_data[trial_period_days]` with `payment_method_collection=if_required` (a trial
 *   without a card) and `trial_settings[end_behavior][missing_payment_method]`, and `mode=payment`
 *   with `price_data` (a one-time payment: a PaymentIntent, refundable through `/v1/refunds`).
 * - `POST /v1/subscriptions/:id`: `pause_collection` (or '' to resume), `discounts`,
 *   `cancel_at_period_end`, `cancellation_details`, `items` (a price change); the webhook
 *   `customer.subscription.updated` follows the answer, as Stripe's does (`settle()` waits for it).
 * - `down` makes every API call drop its connection (an account that cannot be reached);
 *   `failListAfter(n)` drops the connection from the n-th list page on.
 */
type Obj = Record<string, unknown>;

/** Parses Stripe's form encoding (a[b][0][c]=v) into nested objects and arrays. */
export function parseStripeForm(body: string): Obj {
  const root: Obj = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const parts = rawKey.replace(/\]/g, '').split('[');
    let node: Obj | unknown[] = root;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]!);
      const key = Array.isArray(node) ? Number(part) : part;
      const container = node as Record<string | number, unknown>;
      if (last) container[key] = value;
      else {
        container[key] ??= nextIsIndex ? [] : {};
        node = container[key] as Obj | unknown[];
      }
    });
  }
  return root;
}

export interface StripeTestServer {
  url: string;
  port: number;
  webhookSecret: string;
  webhookUrl: string | undefined;
  objects: Map<string, Obj>;
  requests: Array<{ method: string; path: string; idempotencyKey: string | undefined; query: string }>;
  /** When true, every API call drops its connection, as an unreachable Stripe would. */
  down: boolean;
  /** Drops the connection of list calls after `pages` pages were answered (undefined: never). */
  failListAfter(pages: number | undefined): void;
  /** A customer made outside Hearth (another tool's checkout), as Stripe would store it. */
  createCustomer(fields: { email: string | null; name?: string; id?: string }): Obj;
  /** A subscription made outside Hearth (another tool's checkout), on one price. No webhook is sent. */
  createSubscription(fields: { customer: string; price: string; status?: string; id?: string; metadata?: Obj; created?: number }): Obj;
  /** Completes a Checkout Session as a paying customer would, then posts the webhooks. */
  completeCheckout(sessionId: string): Promise<Obj>;
  /** Changes a subscription and posts customer.subscription.updated (or .deleted for canceled). */
  updateSubscription(id: string, patch: Obj): Promise<void>;
  /** Ends a subscription's trial now: active when it has a card (or the trial did not need one and ends by invoicing), canceled otherwise. */
  endTrial(id: string, options?: { withCard?: boolean }): Promise<void>;
  /** Waits until every webhook started by an API call has been answered. */
  settle(): Promise<void>;
  /** Posts an event for an object, signed like Stripe does. Returns the HTTP status Hearth answered. */
  sendEvent(type: string, object: Obj, options?: { id?: string; secret?: string }): Promise<number>;
  close(): Promise<void>;
}

/** The parameters of a request, independent of their order, to compare a reused idempotency key's. */
function canonicalParams(raw: string): string {
  return [...new URLSearchParams(raw)]
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('&');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startStripeTestServer(options: { webhookUrl?: string } = {}): Promise<StripeTestServer> {
  const objects = new Map<string, Obj>();
  const requests: StripeTestServer['requests'] = [];
  // Stripe keeps each key's first request (endpoint + parameters) and its answer for 24 hours.
  const idempotent = new Map<string, { endpoint: string; params: string; status: number; answer: unknown }>();
  let listPagesLeft: number | undefined;
  // Webhooks that follow an API call's answer, as Stripe's arrive after it.
  const pending = new Set<Promise<unknown>>();
  const later = (type: string, object: Obj) => {
    const snapshot = structuredClone(object);
    const p: Promise<unknown> = new Promise((r) => setTimeout(r, 5))
      .then(() => state.sendEvent(type, snapshot))
      .catch(() => undefined)
      .finally(() => pending.delete(p));
    pending.add(p);
  };
  const webhookSecret = 'whsec_test_secret';
  const signer = new Stripe('sk_test_signer');
  let counter = 0;
  const id = (prefix: string) => `${prefix}_test${++counter}`;
  const now = () => Math.floor(Date.now() / 1000);

  const state: StripeTestServer = {
    url: '',
    port: 0,
    webhookSecret,
    webhookUrl: options.webhookUrl,
    objects,
    requests,
    down: false,
    failListAfter(pages) {
      listPagesLeft = pages;
    },
    createCustomer(fields) {
      const customer: Obj = {
        id: fields.id ?? id('cus'),
        object: 'customer',
        email: fields.email,
        name: fields.name ?? null,
        created: now(),
      };
      objects.set(customer.id as string, customer);
      return customer;
    },
    createSubscription(fields) {
      const price = objects.get(fields.price);
      if (!price) throw new Error(`no price ${fields.price}`);
      const subscription: Obj = {
        id: fields.id ?? id('sub'),
        object: 'subscription',
        customer: fields.customer,
        status: fields.status ?? 'active',
        cancel_at_period_end: false,
        metadata: fields.metadata ?? {},
        items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price, current_period_end: now() + 30 * 86400 }] },
        current_period_end: now() + 30 * 86400,
        created: fields.created ?? now() + counter, // distinct and increasing, for the list order
      };
      objects.set(subscription.id as string, subscription);
      return subscription;
    },
    async completeCheckout(sessionId) {
      const session = objects.get(sessionId);
      if (!session) throw new Error(`no session ${sessionId}`);
      if (session.status === 'complete') throw new Error(`session ${sessionId} is complete already`);
      if (session.mode === 'payment') {
        const pi: Obj = {
          id: id('pi'),
          object: 'payment_intent',
          amount: session.amount_total,
          currency: session.currency,
          status: 'succeeded',
          metadata: session.metadata ?? {},
          customer: session.customer ?? null,
        };
        objects.set(pi.id as string, pi);
        Object.assign(session, { status: 'complete', payment_status: 'paid', payment_intent: pi.id });
        await state.sendEvent('checkout.session.completed', session);
        return pi;
      }
      const lineItems = session.line_items as Array<{ price: string }>;
      const price = objects.get(lineItems[0]!.price)!;
      const subData = (session.subscription_data as Obj | undefined) ?? {};
      const trialDays = Number(subData.trial_period_days ?? 0);
      // Without a card only when the session allowed it (a trial with payment_method_collection=if_required).
      const withoutCard = trialDays > 0 && session.payment_method_collection === 'if_required';
      const subscriptionId = id('sub');
      const discounts = redeem(session, subscriptionId);
      const periodEnd = now() + (trialDays > 0 ? trialDays * 86400 : 30 * 86400);
      const subscription: Obj = {
        id: subscriptionId,
        object: 'subscription',
        customer: session.customer,
        status: trialDays > 0 ? 'trialing' : 'active',
        cancel_at_period_end: false,
        metadata: (subData.metadata as Obj | undefined) ?? session.metadata ?? {},
        items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price, current_period_end: periodEnd }] },
        current_period_end: periodEnd,
        trial_start: trialDays > 0 ? now() : null,
        trial_end: trialDays > 0 ? periodEnd : null,
        trial_settings: (subData.trial_settings as Obj | undefined) ?? {
          end_behavior: { missing_payment_method: 'create_invoice' },
        },
        default_payment_method: withoutCard ? null : id('pm'),
        discounts,
        pause_collection: null,
        cancellation_details: { comment: null, feedback: null, reason: null },
        created: now() + counter,
      };
      objects.set(subscription.id as string, subscription);
      Object.assign(session, {
        status: 'complete',
        payment_status: withoutCard ? 'no_payment_required' : 'paid',
        subscription: subscription.id,
      });
      await state.sendEvent('checkout.session.completed', session);
      await state.sendEvent('customer.subscription.created', subscription);
      await state.sendEvent('invoice.paid', {
        id: id('in'),
        object: 'invoice',
        customer: session.customer,
        subscription: subscription.id,
        amount_paid: 0,
        parent: { subscription_details: { subscription: subscription.id } },
      });
      return subscription;
    },
    async endTrial(subId, opts = {}) {
      const sub = objects.get(subId);
      if (!sub || sub.status !== 'trialing') throw new Error(`no trialing subscription ${subId}`);
      if (opts.withCard) sub.default_payment_method = id('pm');
      const behavior = ((sub.trial_settings as Obj).end_behavior as Obj).missing_payment_method;
      const periodEnd = now() + 30 * 86400;
      if (!sub.default_payment_method && behavior === 'cancel') {
        Object.assign(sub, { status: 'canceled', trial_end: now(), ended_at: now() });
        await state.sendEvent('customer.subscription.deleted', sub);
        return;
      }
      const item = (sub.items as { data: Obj[] }).data[0]!;
      item.current_period_end = periodEnd;
      Object.assign(sub, { status: sub.default_payment_method ? 'active' : 'past_due', trial_end: now(), current_period_end: periodEnd });
      await state.sendEvent('customer.subscription.updated', sub);
      if ((sub.status as string) === 'active')
        await state.sendEvent('invoice.paid', {
          id: id('in'),
          object: 'invoice',
          customer: sub.customer,
          parent: { subscription_details: { subscription: sub.id } },
        });
    },
    async settle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async updateSubscription(subId, patch) {
      const sub = objects.get(subId);
      if (!sub) throw new Error(`no subscription ${subId}`);
      Object.assign(sub, patch);
      await state.sendEvent(sub.status === 'canceled' ? 'customer.subscription.deleted' : 'customer.subscription.updated', sub);
    },
    async sendEvent(type, object, opts = {}) {
      if (!state.webhookUrl) throw new Error('no webhook URL');
      const payload = JSON.stringify({
        id: opts.id ?? id('evt'),
        object: 'event',
        type,
        created: now(),
        data: { object },
        api_version: '2026-10-28.endive',
        livemode: false,
      });
      const header = signer.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? webhookSecret });
      const res = await fetch(state.webhookUrl, {
        method: 'POST',
        body: payload,
        headers: { 'content-type': 'application/json', 'stripe-signature': header },
      });
      await res.arrayBuffer();
      return res.status;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };

  const send = (res: import('node:http').ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const error = (res: import('node:http').ServerResponse, status: number, message: string, fields: Obj = {}) =>
    send(res, status, { error: { type: 'invalid_request_error', message, ...fields } });
  const missing = (res: import('node:http').ServerResponse, what: string, objectId: string) =>
    error(res, 404, `No such ${what}: '${objectId}'`, { code: 'resource_missing', param: 'id' });

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    const key = req.headers['idempotency-key'] as string | undefined;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, idempotencyKey: key, query: url.search });
    if (state.down && url.pathname.startsWith('/v1/')) return req.socket.destroy();

    // The hosted pages a browser visits.
    const checkoutPage = /^\/checkout\/(cs_test\d+)(\/complete)?$/.exec(url.pathname);
    if (checkoutPage) {
      const session = objects.get(checkoutPage[1]!);
      if (!session) return error(res, 404, 'No such session');
      if (checkoutPage[2] && req.method === 'POST') {
        await state.completeCheckout(session.id as string);
        res.writeHead(303, { location: String(session.success_url).replace('{CHECKOUT_SESSION_ID}', session.id as string) });
        return res.end();
      }
      return send(
        res,
        200,
        `<!doctype html><title>Test checkout</title><h1>Test checkout</h1><form method="post" action="/checkout/${session.id}/complete"><button>Pay</button></form>`,
        'text/html',
      );
    }
    if (url.pathname.startsWith('/portal/'))
      return send(res, 200, '<!doctype html><title>Test billing portal</title><h1>Test billing portal</h1>', 'text/html');

    if (!String(req.headers.authorization ?? '').startsWith('Bearer sk_test')) return error(res, 401, 'Invalid API Key provided');
    const path = url.pathname;
    const seen = key && req.method === 'POST' ? idempotent.get(key) : undefined;
    if (seen) {
      if (seen.endpoint !== path || seen.params !== canonicalParams(raw)) {
        return send(res, 400, {
          error: {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          },
        });
      }
      res.setHeader('idempotent-replayed', 'true');
      return send(res, seen.status, seen.answer);
    }
    const body = parseStripeForm(req.method === 'GET' ? url.search.slice(1) : raw);
    let answer: Obj | undefined;
    if (req.method === 'POST' && path === '/v1/products') answer = { id: id('prod'), object: 'product', active: true, ...body };
    else if (req.method === 'POST' && path === '/v1/prices') {
      if (!body.product || !body.currency || !body.unit_amount)
        return error(res, 400, 'Missing required param: product, currency or unit_amount.');
      answer = { id: id('price'), object: 'price', active: true, ...body, unit_amount: Number(body.unit_amount) };
    } else if (req.method === 'POST' && path === '/v1/customers') answer = { id: id('cus'), object: 'customer', ...body };
    else if (req.method === 'POST' && path === '/v1/checkout/sessions') {
      const checked = checkoutSession(body);
      if (typeof checked === 'string') return error(res, 400, checked);
      answer = checked;
    } else if (req.method === 'POST' && path === '/v1/coupons') {
      const checked = coupon(body);
      if (typeof checked === 'string') return error(res, 400, checked);
      answer = checked;
    } else if (req.method === 'DELETE' && /^\/v1\/coupons\/\w+$/.test(path)) {
      const cid = path.split('/').pop()!;
      const found = objects.get(cid);
      if (!found || found.object !== 'coupon') return missing(res, 'coupon', cid);
      objects.delete(cid);
      // Its promotion codes stop working with it.
      for (const o of objects.values()) if (o.object === 'promotion_code' && (o.promotion as Obj).coupon === cid) o.active = false;
      return send(res, 200, { id: cid, object: 'coupon', deleted: true });
    } else if (req.method === 'POST' && path === '/v1/promotion_codes') {
      const checked = promotionCode(body);
      if (typeof checked === 'string') return error(res, 400, checked);
      answer = checked;
    } else if (req.method === 'POST' && /^\/v1\/promotion_codes\/\w+$/.test(path)) {
      const pid = path.split('/').pop()!;
      const promo = objects.get(pid);
      if (!promo || promo.object !== 'promotion_code') return missing(res, 'promotion_code', pid);
      const extra = Object.keys(body).filter((k) => !['active', 'metadata', 'restrictions', 'expand'].includes(k));
      if (extra.length) return error(res, 400, `Received unknown parameter: ${extra[0]}`);
      if (body.active !== undefined) {
        const coupon = objects.get((promo.promotion as Obj).coupon as string);
        if (body.active === 'true' && !coupon) return error(res, 400, 'This promotion code cannot be reactivated: its coupon was deleted.');
        promo.active = body.active === 'true';
      }
      if (body.metadata) promo.metadata = { ...(promo.metadata as Obj), ...(body.metadata as Obj) };
      if (key) idempotent.set(key, { endpoint: path, params: canonicalParams(raw), status: 200, answer: promo });
      later('promotion_code.updated', promo);
      return send(res, 200, promo);
    } else if (req.method === 'GET' && path === '/v1/promotion_codes') {
      const data = [...objects.values()].filter(
        (o) =>
          o.object === 'promotion_code' &&
          (!body.code || o.code === body.code) &&
          (!body.coupon || (o.promotion as Obj).coupon === body.coupon),
      );
      return send(res, 200, { object: 'list', url: path, has_more: false, data });
    } else if (req.method === 'POST' && /^\/v1\/subscriptions\/\w+$/.test(path)) {
      const sid = path.split('/').pop()!;
      const sub = objects.get(sid);
      if (!sub || sub.object !== 'subscription') return missing(res, 'subscription', sid);
      const changed = updateSubscriptionFromApi(sub, body);
      if (typeof changed === 'string') return error(res, 400, changed);
      if (key) idempotent.set(key, { endpoint: path, params: canonicalParams(raw), status: 200, answer: sub });
      later(sub.status === 'canceled' ? 'customer.subscription.deleted' : 'customer.subscription.updated', sub);
      return send(res, 200, expand(sub, body.expand as string[] | undefined, ''));
    } else if (req.method === 'DELETE' && /^\/v1\/subscriptions\/\w+$/.test(path)) {
      const sid = path.split('/').pop()!;
      const sub = objects.get(sid);
      if (!sub || sub.object !== 'subscription') return missing(res, 'subscription', sid);
      Object.assign(sub, { status: 'canceled', ended_at: now(), canceled_at: now() });
      later('customer.subscription.deleted', sub);
      return send(res, 200, sub);
    } else if (req.method === 'POST' && path === '/v1/refunds') {
      const pi = objects.get(String(body.payment_intent ?? ''));
      if (!pi || pi.object !== 'payment_intent')
        return error(res, 400, `No such payment_intent: '${String(body.payment_intent ?? '')}'`, {
          code: 'resource_missing',
          param: 'payment_intent',
        });
      if (pi.refunded)
        return error(res, 400, `Charge for ${pi.id as string} has already been refunded.`, { code: 'charge_already_refunded' });
      pi.refunded = true;
      answer = {
        id: id('re'),
        object: 'refund',
        payment_intent: pi.id,
        amount: pi.amount,
        currency: pi.currency,
        status: 'succeeded',
        metadata: body.metadata ?? {},
      };
      later('charge.refunded', { id: id('ch'), object: 'charge', payment_intent: pi.id, refunded: true, amount_refunded: pi.amount });
    } else if (req.method === 'POST' && path === '/v1/billing_portal/sessions') {
      if (!body.customer || !objects.has(body.customer as string)) return error(res, 400, 'No such customer');
      const pid = id('bps');
      answer = { id: pid, object: 'billing_portal.session', url: `${state.url}/portal/${pid}`, ...body };
    } else if (req.method === 'GET' && path === '/v1/subscriptions') {
      if (listPagesLeft !== undefined && listPagesLeft-- <= 0) return req.socket.destroy();
      const listed = listSubscriptions(body);
      if (typeof listed.error === 'string') return error(res, 400, listed.error);
      return send(res, 200, listed);
    } else if (req.method === 'GET') {
      const found =
        /^\/v1\/(subscriptions|customers|prices|products|checkout\/sessions|coupons|promotion_codes|payment_intents)\/([\w]+)$/.exec(path);
      const obj = found ? objects.get(found[2]!) : undefined;
      if (!obj) return missing(res, found?.[1]?.replace(/s$/, '') ?? 'object', found?.[2] ?? path);
      return send(res, 200, expand(obj, body.expand as string[] | undefined, ''));
    } else return error(res, 404, `Unrecognized request URL (${req.method}: ${path})`);
    objects.set(answer.id as string, answer);
    if (key) idempotent.set(key, { endpoint: path, params: canonicalParams(raw), status: 200, answer });
    send(res, 200, answer);
  });
  /** Replaces an id by its object at each expanded path (`customer`, `data.customer`). */
  function expand(obj: Obj, paths: string[] | undefined, prefix: string): Obj {
    const copy: Obj = { ...obj };
    const resolve = (ref: unknown) => {
      if (typeof ref !== 'string' || !objects.has(ref)) return ref;
      const found = objects.get(ref)!;
      if (found.object !== 'discount') return found;
      const couponId = discountCoupons.get(ref);
      return { ...found, source: { type: 'coupon', coupon: (couponId && objects.get(couponId)) ?? couponId ?? null } };
    };
    for (const p of paths ?? []) {
      if (!p.startsWith(prefix)) continue;
      const field = p.slice(prefix.length);
      if (field.includes('.')) continue;
      const ref = copy[field];
      copy[field] = Array.isArray(ref) ? ref.map(resolve) : resolve(ref);
    }
    return copy;
  }
  /** Validates a Checkout Session's parameters as Stripe does; the session, or Stripe's message. */
  function checkoutSession(body: Obj): Obj | string {
    const mode = body.mode as string | undefined;
    if (mode !== 'subscription' && mode !== 'payment' && mode !== 'setup') return 'Missing required param: mode.';
    const items = body.line_items as Array<{ price?: string; quantity?: string; price_data?: Obj }> | undefined;
    const item = items?.[0];
    if (!item) return 'Missing required param: line_items.';
    let unitAmount: number;
    let currency: string;
    if (item.price_data) {
      const pd = item.price_data;
      if (!pd.currency || !pd.unit_amount || !(pd.product_data as Obj | undefined)?.name)
        return 'Missing required param: line_items[0][price_data][currency], [unit_amount] or [product_data][name].';
      if (mode === 'subscription' && !pd.recurring)
        return 'You must provide at least one recurring price in `subscription` mode when using prices.';
      unitAmount = Number(pd.unit_amount);
      currency = String(pd.currency);
    } else {
      const price = item.price ? objects.get(item.price) : undefined;
      if (!price) return `No such price: '${item.price ?? ''}'`;
      if (mode === 'payment' && price.recurring)
        return 'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.';
      if (mode === 'subscription' && !price.recurring)
        return 'You must provide at least one recurring price in `subscription` mode when using prices.';
      unitAmount = Number(price.unit_amount);
      currency = String(price.currency);
    }
    const discounts = body.discounts as Array<{ coupon?: string; promotion_code?: string }> | undefined;
    if (discounts && body.allow_promotion_codes !== undefined)
      return 'You may only specify one of these parameters: allow_promotion_codes, discounts.';
    if (discounts && discounts.length > 1) return 'You may only specify one discount.';
    const d = discounts?.[0];
    if (d) {
      const refusal = discountRefusal(d, body.customer as string | undefined);
      if (refusal) return refusal;
    }
    const sub = (body.subscription_data as Obj | undefined) ?? {};
    if (sub.trial_period_days !== undefined) {
      if (mode !== 'subscription') return '`subscription_data` can only be used in `subscription` mode.';
      const days = Number(sub.trial_period_days);
      if (!Number.isInteger(days) || days < 1 || days > 730) return 'The trial period must be between 1 and 730 days.';
    }
    const collection = body.payment_method_collection as string | undefined;
    if (collection !== undefined && collection !== 'always' && collection !== 'if_required')
      return `Invalid payment_method_collection: must be one of always or if_required`;
    const sid = id('cs');
    return {
      id: sid,
      object: 'checkout.session',
      status: 'open',
      url: `${state.url}/checkout/${sid}`,
      ...body,
      currency,
      amount_total: unitAmount * Number(item.quantity ?? 1),
    };
  }

  /** Why Stripe would not apply this discount now, or undefined. */
  function discountRefusal(d: { coupon?: string; promotion_code?: string }, customer: string | undefined): string | undefined {
    if (d.promotion_code) {
      const promo = objects.get(d.promotion_code);
      if (!promo || promo.object !== 'promotion_code') return `No such promotion code: '${d.promotion_code}'`;
      if (!promo.active) return 'This promotion code is inactive.';
      if (promo.expires_at && Number(promo.expires_at) <= now()) return 'This promotion code has expired.';
      if (promo.max_redemptions && Number(promo.times_redeemed) >= Number(promo.max_redemptions))
        return 'This promotion code has been used the maximum number of times.';
      if ((promo.restrictions as Obj).first_time_transaction && customer && hasPaid(customer))
        return 'This promotion code cannot be redeemed because the associated customer has prior transactions.';
      return discountRefusal({ coupon: (promo.promotion as Obj).coupon as string }, customer);
    }
    const coupon = d.coupon ? objects.get(d.coupon) : undefined;
    if (!coupon || coupon.object !== 'coupon') return `No such coupon: '${d.coupon ?? ''}'`;
    if (coupon.redeem_by && Number(coupon.redeem_by) <= now()) return `Coupon expired: ${coupon.id as string}`;
    if (coupon.max_redemptions && Number(coupon.times_redeemed) >= Number(coupon.max_redemptions))
      return `Coupon ${coupon.id as string} has been used the maximum number of times.`;
    return undefined;
  }
  function hasPaid(customer: string): boolean {
    return [...objects.values()].some((o) => o.object === 'subscription' && o.customer === customer && o.status !== 'incomplete');
  }

  /** Applies a session's discount to a new subscription: a Discount object, the redemptions counted. */
  function redeem(session: Obj, subscriptionId: string): string[] {
    const d = (session.discounts as Array<{ coupon?: string; promotion_code?: string }> | undefined)?.[0];
    if (!d) return [];
    const promo = d.promotion_code ? objects.get(d.promotion_code) : undefined;
    const couponId = (promo ? (promo.promotion as Obj).coupon : d.coupon) as string;
    const coupon = objects.get(couponId)!;
    return [makeDiscount(coupon, subscriptionId, session.customer as string, promo)];
  }
  function makeDiscount(coupon: Obj, subscriptionId: string, customer: string, promo?: Obj): string {
    coupon.times_redeemed = Number(coupon.times_redeemed) + 1;
    if (promo) promo.times_redeemed = Number(promo.times_redeemed) + 1;
    const start = now();
    const months = coupon.duration === 'repeating' ? Number(coupon.duration_in_months) : coupon.duration === 'once' ? 1 : 0;
    const discount: Obj = {
      id: id('di'),
      object: 'discount',
      source: { type: 'coupon', coupon: coupon.id },
      promotion_code: promo?.id ?? null,
      customer,
      subscription: subscriptionId,
      start,
      end: months ? start + months * 30 * 86400 : null,
    };
    objects.set(discount.id as string, discount);
    // Stripe embeds the coupon in the discount it returns.
    discountCoupons.set(discount.id as string, coupon.id as string);
    return discount.id as string;
  }
  const discountCoupons = new Map<string, string>();

  /** A coupon from its parameters, or Stripe's refusal. */
  function coupon(body: Obj): Obj | string {
    const percent = body.percent_off === undefined ? null : Number(body.percent_off);
    const amount = body.amount_off === undefined ? null : Number(body.amount_off);
    if (percent !== null && amount !== null) return 'You may only specify one of these parameters: amount_off, percent_off.';
    if (percent === null && amount === null) return 'You must specify either amount_off or percent_off.';
    if (percent !== null && !(percent > 0 && percent <= 100)) return 'Invalid percent_off: must be greater than 0 and at most 100.';
    if (amount !== null && !(Number.isInteger(amount) && amount > 0)) return 'Invalid amount_off: must be a positive integer.';
    if (amount !== null && !body.currency) return 'You must pass currency when passing amount_off.';
    const duration = (body.duration as string | undefined) ?? 'once';
    if (!['once', 'repeating', 'forever'].includes(duration)) return `Invalid duration: must be one of forever, once, or repeating`;
    if (duration === 'repeating' && !body.duration_in_months) return 'You must specify duration_in_months when duration is repeating.';
    if (duration !== 'repeating' && body.duration_in_months !== undefined)
      return 'duration_in_months can only be set when duration is repeating.';
    if (body.redeem_by !== undefined && Number(body.redeem_by) <= now()) return 'Redeem by date must be in the future.';
    if (body.max_redemptions !== undefined && !(Number(body.max_redemptions) >= 1)) return 'Invalid max_redemptions: must be at least 1.';
    if (body.id && objects.has(body.id as string)) return 'Coupon already exists.';
    return {
      id: (body.id as string | undefined) ?? id('co'),
      object: 'coupon',
      name: body.name ?? null,
      percent_off: percent,
      amount_off: amount,
      currency: body.currency ?? null,
      duration,
      duration_in_months: body.duration_in_months === undefined ? null : Number(body.duration_in_months),
      max_redemptions: body.max_redemptions === undefined ? null : Number(body.max_redemptions),
      redeem_by: body.redeem_by === undefined ? null : Number(body.redeem_by),
      times_redeemed: 0,
      valid: true,
      applies_to: body.applies_to ?? null,
      metadata: body.metadata ?? {},
      created: now(),
    };
  }

  function promotionCode(body: Obj): Obj | string {
    const promotion = body.promotion as Obj | undefined;
    if (!promotion?.coupon || promotion.type !== 'coupon') return 'Missing required param: promotion[coupon].';
    const couponObj = objects.get(promotion.coupon as string);
    if (!couponObj || couponObj.object !== 'coupon') return `No such coupon: '${String(promotion.coupon)}'`;
    const code = (body.code as string | undefined) ?? `PROMO${counter + 1}`;
    if (!/^[a-zA-Z0-9]{3,500}$/.test(code)) return 'Invalid code: use only letters and digits (3 characters at least).';
    for (const o of objects.values())
      if (o.object === 'promotion_code' && o.active && String(o.code).toLowerCase() === code.toLowerCase())
        return `An active promotion code with \`code: ${code}\` already exists.`;
    if (body.expires_at !== undefined && Number(body.expires_at) <= now()) return 'The expiration date must be in the future.';
    if (couponObj.redeem_by && body.expires_at !== undefined && Number(body.expires_at) > Number(couponObj.redeem_by))
      return "The promotion code's expiration date cannot be after the coupon's redeem_by date.";
    const restrictions = (body.restrictions as Obj | undefined) ?? {};
    return {
      id: id('promo'),
      object: 'promotion_code',
      code,
      active: body.active === undefined ? true : body.active === 'true',
      promotion: { type: 'coupon', coupon: couponObj.id },
      max_redemptions: body.max_redemptions === undefined ? null : Number(body.max_redemptions),
      expires_at: body.expires_at === undefined ? null : Number(body.expires_at),
      times_redeemed: 0,
      restrictions: {
        first_time_transaction: restrictions.first_time_transaction === 'true',
        minimum_amount: null,
        minimum_amount_currency: null,
      },
      metadata: body.metadata ?? {},
      created: now(),
    };
  }

  /** POST /v1/subscriptions/:id; the subscription changed in place, or Stripe's refusal. */
  function updateSubscriptionFromApi(sub: Obj, body: Obj): true | string {
    const known = [
      'pause_collection',
      'discounts',
      'cancel_at_period_end',
      'cancellation_details',
      'items',
      'metadata',
      'expand',
      'proration_behavior',
      'trial_end',
    ];
    const extra = Object.keys(body).find((k) => !known.includes(k));
    if (extra) return `Received unknown parameter: ${extra}`;
    if (['canceled', 'incomplete_expired'].includes(sub.status as string))
      return 'A canceled subscription can only update its cancellation_details and metadata.';
    if (body.pause_collection !== undefined) {
      if (body.pause_collection === '') sub.pause_collection = null;
      else {
        const pc = body.pause_collection as Obj;
        if (!['keep_as_draft', 'mark_uncollectible', 'void'].includes(pc.behavior as string))
          return 'Invalid pause_collection[behavior]: must be one of keep_as_draft, mark_uncollectible, or void';
        if (pc.resumes_at !== undefined && Number(pc.resumes_at) <= now()) return 'pause_collection[resumes_at] must be in the future.';
        if (sub.status === 'trialing') return 'You cannot pause collection on a subscription in a trial.';
        sub.pause_collection = { behavior: pc.behavior, resumes_at: pc.resumes_at === undefined ? null : Number(pc.resumes_at) };
      }
    }
    if (body.discounts !== undefined) {
      if (body.discounts === '') sub.discounts = [];
      else {
        const list = body.discounts as Array<{ coupon?: string; promotion_code?: string }>;
        const made: string[] = [];
        for (const d of list) {
          const refusal = discountRefusal(d, undefined);
          if (refusal) return refusal;
          const promo = d.promotion_code ? objects.get(d.promotion_code) : undefined;
          const couponObj = objects.get((promo ? (promo.promotion as Obj).coupon : d.coupon) as string)!;
          made.push(makeDiscount(couponObj, sub.id as string, sub.customer as string, promo));
        }
        sub.discounts = made;
      }
    }
    if (body.items !== undefined) {
      const items = body.items as Array<{ id?: string; price?: string }>;
      const item = (sub.items as { data: Obj[] }).data[0]!;
      const next = items[0]?.price ? objects.get(items[0].price) : undefined;
      if (!next) return `No such price: '${items[0]?.price ?? ''}'`;
      if (items[0]!.id && items[0]!.id !== item.id) return `No such subscription item: '${items[0]!.id}'`;
      item.price = next;
    }
    if (body.cancel_at_period_end !== undefined) sub.cancel_at_period_end = body.cancel_at_period_end === 'true';
    if (body.cancellation_details !== undefined)
      sub.cancellation_details = { ...(sub.cancellation_details as Obj), ...(body.cancellation_details as Obj) };
    if (body.metadata !== undefined) sub.metadata = { ...(sub.metadata as Obj), ...(body.metadata as Obj) };
    return true;
  }

  const ENDED = ['canceled', 'incomplete_expired'];
  function listSubscriptions(params: Obj): Obj {
    const limit = params.limit === undefined ? 10 : Number(params.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return { error: 'Invalid integer: limit must be between 1 and 100' };
    const status = params.status as string | undefined;
    let subs = [...objects.values()]
      .filter((o) => o.object === 'subscription')
      .filter((s) => {
        if (status === 'all') return true;
        if (status === 'ended') return ENDED.includes(s.status as string);
        if (status) return s.status === status;
        return s.status !== 'canceled';
      })
      .filter((s) => !params.customer || s.customer === params.customer)
      .filter((s) => !params.price || (s.items as { data: Array<{ price: Obj }> }).data.some((i) => i.price.id === params.price))
      // Newest first, as Stripe lists.
      .sort((a, b) => Number(b.created ?? 0) - Number(a.created ?? 0));
    if (params.starting_after) {
      const at = subs.findIndex((s) => s.id === params.starting_after);
      if (at < 0) return { error: `No such subscription: '${String(params.starting_after)}'` };
      subs = subs.slice(at + 1);
    }
    const page = subs.slice(0, limit);
    return {
      object: 'list',
      url: '/v1/subscriptions',
      has_more: subs.length > limit,
      data: page.map((s) => expand(s, params.expand as string[] | undefined, 'data.')),
    };
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  state.port = typeof address === 'object' && address ? address.port : 0;
  state.url = `http://127.0.0.1:${state.port}`;
  return state;
}
