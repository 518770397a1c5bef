/**
 * The image fields of staff forms (components/ImageField.astro): upload in place, pick one of the
 * recent uploads, and a thumbnail of the chosen path. The field keeps the path; the form sends it.
 * An admin island: no reader page loads this.
 */
const UPLOAD_PATH = /^\/uploads\/[\w./-]+$/;

/** POSTs an image to the upload route (no post or settings saved first) and answers its public path. */
export async function uploadImage(file: File): Promise<string> {
  const body = new FormData();
  body.append('file', file);
  const res = await fetch('/admin/uploads', { method: 'POST', body, headers: { accept: 'application/json' } });
  const data = (await res.json().catch(() => ({}))) as { url?: string; error?: { message?: string } };
  if (!res.ok || !data.url) throw new Error(data.error?.message ?? `The upload failed (${res.status}).`);
  return data.url;
}

function mount(root: HTMLElement): void {
  const name = root.dataset.imageField!;
  const field = root.querySelector<HTMLInputElement>(`input[name="${name}"]`);
  const thumb = root.querySelector<HTMLImageElement>('[data-image-preview]');
  const button = root.querySelector<HTMLButtonElement>('[data-upload-into]');
  const picker = root.querySelector<HTMLDetailsElement>('[data-upload-picker]');
  const status = root.querySelector<HTMLElement>('[data-image-status]');
  if (!field) return;
  const show = () => {
    const ok = UPLOAD_PATH.test(field.value);
    if (thumb) {
      thumb.hidden = !ok;
      if (ok) thumb.src = field.value;
    }
    for (const choice of root.querySelectorAll<HTMLButtonElement>('[data-pick]')) {
      choice.setAttribute('aria-pressed', String(choice.dataset.pick === field.value));
    }
  };
  const choose = (path: string, said: string) => {
    field.value = path;
    show();
    // Bubbles to the form: the post editor's autosave sees the change.
    field.dispatchEvent(new Event('input', { bubbles: true }));
    if (status) status.textContent = said;
  };
  field.addEventListener('input', show);
  if (picker) {
    picker.hidden = false;
    picker.addEventListener('click', (event) => {
      const choice = (event.target as HTMLElement).closest<HTMLButtonElement>('[data-pick]');
      if (!choice) return;
      choose(choice.dataset.pick!, `Chosen: ${choice.dataset.pick}.`);
      picker.open = false;
    });
  }
  if (button) {
    button.hidden = false;
    button.addEventListener('click', () => {
      const input = document.createElement('input');
      input.type = 'file';
      input.accept = 'image/png,image/jpeg,image/gif,image/webp';
      input.onchange = async () => {
        const file = [...(input.files ?? [])].find((f) => f.type.startsWith('image/'));
        if (!file) return;
        if (status) status.textContent = `Uploading ${file.name}…`;
        try {
          choose(await uploadImage(file), `Uploaded ${file.name}.`);
        } catch (err) {
          if (status) status.textContent = err instanceof Error ? err.message : 'The upload failed.';
        }
      };
      input.click();
    });
  }
}

export function mountImageFields(): void {
  for (const root of document.querySelectorAll<HTMLElement>('[data-image-field]')) {
    if (root.dataset.mounted) continue;
    root.dataset.mounted = '1';
    mount(root);
  }
}
