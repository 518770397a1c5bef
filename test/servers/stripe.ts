import { createServer, type IncomingMessage, type Server } from 'node:http';
import Stripe from 'stripe';

/**
 * A local Stripe-compatible server for tests: the calls Hearth makes (products, prices, customers,
 * Checkout Sessions, the billing portal, subscriptions), kept in memory. A checkout page completes
 * the session, creates the subscription, and posts the webhooks Stripe would, signed with
 * stripe.webhooks.generateTestHeaderString, to `webhookUrl`.
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
  requests: Array<{ method: string; path: string; idempotencyKey: string | undefined }>;
  /** Completes a Checkout Session as a paying customer would, then posts the webhooks. */
  completeCheckout(sessionId: string): Promise<Obj>;
  /** Changes a subscription and posts customer.subscription.updated (or .deleted for canceled). */
  updateSubscription(id: string, patch: Obj): Promise<void>;
  /** Posts an event for an object, signed like Stripe does. Returns the HTTP status Hearth answered. */
  sendEvent(type: string, object: Obj, options?: { id?: string; secret?: string }): Promise<number>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startStripeTestServer(options: { webhookUrl?: string } = {}): Promise<StripeTestServer> {
  const objects = new Map<string, Obj>();
  const requests: StripeTestServer['requests'] = [];
  const idempotent = new Map<string, Obj>();
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
    async completeCheckout(sessionId) {
      const session = objects.get(sessionId);
      if (!session) throw new Error(`no session ${sessionId}`);
      const lineItems = session.line_items as Array<{ price: string }>;
      const price = objects.get(lineItems[0]!.price)!;
      const trialDays = Number((session.subscription_data as Obj | undefined)?.trial_period_days ?? 0);
      const subscription: Obj = {
        id: id('sub'),
        object: 'subscription',
        customer: session.customer,
        status: trialDays > 0 ? 'trialing' : 'active',
        cancel_at_period_end: false,
        metadata: session.metadata ?? {},
        items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price, current_period_end: now() + 30 * 86400 }] },
        current_period_end: now() + 30 * 86400,
        created: now(),
      };
      objects.set(subscription.id as string, subscription);
      Object.assign(session, { status: 'complete', payment_status: 'paid', subscription: subscription.id });
      await state.sendEvent('checkout.session.completed', session);
      await state.sendEvent('customer.subscription.created', subscription);
      await state.sendEvent('invoice.paid', {
        id: id('in'),
        object: 'invoice',
        customer: session.customer,
        subscription: subscription.id,
        parent: { subscription_details: { subscription: subscription.id } },
      });
      return subscription;
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
  const error = (res: import('node:http').ServerResponse, status: number, message: string) =>
    send(res, status, { error: { type: 'invalid_request_error', message } });

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    const key = req.headers['idempotency-key'] as string | undefined;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, idempotencyKey: key });

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
    if (key && idempotent.has(key) && req.method === 'POST') return send(res, 200, idempotent.get(key));
    const body = parseStripeForm(raw);
    let answer: Obj | undefined;
    const path = url.pathname;
    if (req.method === 'POST' && path === '/v1/products') answer = { id: id('prod'), object: 'product', active: true, ...body };
    else if (req.method === 'POST' && path === '/v1/prices') {
      if (!body.product || !body.currency || !body.unit_amount)
        return error(res, 400, 'Missing required param: product, currency or unit_amount.');
      answer = { id: id('price'), object: 'price', active: true, ...body, unit_amount: Number(body.unit_amount) };
    } else if (req.method === 'POST' && path === '/v1/customers') answer = { id: id('cus'), object: 'customer', ...body };
    else if (req.method === 'POST' && path === '/v1/checkout/sessions') {
      const items = body.line_items as Array<{ price: string }> | undefined;
      if (!items?.[0] || !objects.has(items[0].price)) return error(res, 400, 'No such price');
      const sid = id('cs');
      answer = { id: sid, object: 'checkout.session', status: 'open', url: `${state.url}/checkout/${sid}`, ...body };
    } else if (req.method === 'POST' && path === '/v1/billing_portal/sessions') {
      if (!body.customer || !objects.has(body.customer as string)) return error(res, 400, 'No such customer');
      const pid = id('bps');
      answer = { id: pid, object: 'billing_portal.session', url: `${state.url}/portal/${pid}`, ...body };
    } else if (req.method === 'GET') {
      const found = /^\/v1\/(?:subscriptions|customers|prices|products|checkout\/sessions)\/([\w]+)$/.exec(path);
      const obj = found ? objects.get(found[1]!) : undefined;
      if (!obj) return error(res, 404, 'No such object');
      return send(res, 200, obj);
    } else return error(res, 404, `Unrecognized request URL (${req.method}: ${path})`);
    objects.set(answer.id as string, answer);
    if (key) idempotent.set(key, answer);
    send(res, 200, answer);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  state.port = typeof address === 'object' && address ? address.port : 0;
  state.url = `http://127.0.0.1:${state.port}`;
  return state;
}
