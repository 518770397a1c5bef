/**
 * Following an emailed link the way a person does: the GET shows a page with one button (mail
 * scanners open every link, so a GET changes nothing); pressing it POSTs the page's form from the
 * site's own origin. Answers the POST's response (redirects not followed).
 */
export async function pressEmailLink(link: string, headers: Record<string, string> = {}): Promise<Response> {
  const page = await fetch(link, { redirect: 'manual', headers });
  const html = await page.text();
  const form = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (page.status !== 200 || !form) return new Response(html, { status: page.status, headers: page.headers });
  const body = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1];
    if (name) body.append(name, decodeEntities(value ?? ''));
  }
  const origin = new URL(link).origin;
  return fetch(new URL(decodeEntities(form[1]!), link), {
    method: 'POST',
    body,
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin, ...headers },
  });
}

function decodeEntities(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
    .replaceAll('&quot;', '"')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}
