/**
 * The post editor's browser side (bundled only into the admin's PostForm: no reader page loads
 * it). The form works without it; with it:
 * - the Markdown box becomes CodeMirror 6 with its Markdown mode, a toolbar and shortcuts;
 * - images are uploaded by button, drop or paste (also on a post never saved), their Markdown
 *   inserted at the cursor with the alt text the writer gives;
 * - the preview (rendered by the server, as readers get it) follows the text, beside it on a wide
 *   screen and behind a Write/Preview toggle on a narrow one; word count and reading time follow too;
 * - autosave: the fields are copied to this browser's storage as you type, so a failed save, a
 *   closed tab or a lost connection never loses text; after a successful save it is cleared.
 */
import { markdown } from '@codemirror/lang-markdown';
import { EditorSelection, type ChangeSpec } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { minimalSetup } from 'codemirror';
import { readingStats } from '../../domain/content/reading.ts';
import { uploadImage } from './image-field.ts';

type Command = (view: EditorView) => boolean;

/** Wraps each selection in `before`/`after` (or inserts them around a placeholder word). */
function wrap(before: string, after: string, empty: string): Command {
  return (view) => {
    view.dispatch(
      view.state.changeByRange((range) => {
        const text = view.state.sliceDoc(range.from, range.to) || empty;
        const insert = before + text + after;
        return {
          changes: { from: range.from, to: range.to, insert },
          range: EditorSelection.range(range.from + before.length, range.from + before.length + text.length),
        };
      }),
    );
    view.focus();
    return true;
  };
}

/** Puts `prefix` at the start of every line the selection touches (or takes it away when all have it). */
function linePrefix(prefix: string): Command {
  return (view) => {
    const { state } = view;
    const lines = new Set<number>();
    for (const r of state.selection.ranges) {
      for (let n = state.doc.lineAt(r.from).number; n <= state.doc.lineAt(r.to).number; n++) lines.add(n);
    }
    const all = [...lines].map((n) => state.doc.line(n));
    const remove = all.every((l) => l.text.startsWith(prefix));
    const changes: ChangeSpec[] = all.map((l) =>
      remove ? { from: l.from, to: l.from + prefix.length } : { from: l.from, insert: l.text.startsWith(prefix) ? '' : prefix },
    );
    view.dispatch({ changes });
    view.focus();
    return true;
  };
}

/** Inserts a block on its own lines at the cursor. */
function block(text: string): Command {
  return (view) => {
    const at = view.state.selection.main.head;
    insertBlock(view, at, text);
    view.focus();
    return true;
  };
}

function insertBlock(view: EditorView, at: number, text: string): number {
  const { doc } = view.state;
  const line = doc.lineAt(at);
  const afterBlank = line.number === 1 || doc.line(line.number - 1).text.trim() === '';
  const before = at > line.from ? '\n\n' : afterBlank ? '' : '\n';
  const insert = `${before}${text}\n\n`;
  view.dispatch({ changes: { from: at, insert }, selection: { anchor: at + insert.length } });
  return at + insert.length;
}

const link: Command = (view) => {
  const range = view.state.selection.main;
  const text = view.state.sliceDoc(range.from, range.to) || 'link text';
  const insert = `[${text}](https://)`;
  const urlAt = range.from + text.length + 3;
  view.dispatch({ changes: { from: range.from, to: range.to, insert }, selection: { anchor: urlAt, head: urlAt + 'https://'.length } });
  view.focus();
  return true;
};

function imageFiles(list: FileList | null | undefined): File[] {
  return [...(list ?? [])].filter((f) => f.type.startsWith('image/'));
}

/** Alt text from the writer: what the image shows, for readers who cannot see it. */
function askAlt(name: string): string {
  const answer = window.prompt(`Describe the image "${name}" for readers who cannot see it (alt text):`, '') ?? '';
  return answer.replace(/[[\]\n\r]+/g, ' ').trim();
}

export function mountEditor(): void {
  const form = document.querySelector<HTMLFormElement>('form[data-autosave-key]');
  const textarea = form?.querySelector<HTMLTextAreaElement>('textarea[name=markdown]');
  const host = form?.querySelector<HTMLElement>('[data-cm-host]');
  if (!form || !textarea || !host) return;
  const status = form.querySelector<HTMLElement>('[data-upload-status]')!;
  const fileInput = form.querySelector<HTMLInputElement>('[data-image-input]')!;
  const words = form.querySelector<HTMLElement>('[data-words]')!;
  const minutes = form.querySelector<HTMLElement>('[data-minutes]')!;

  async function insertImages(view: EditorView, files: File[], at?: number): Promise<void> {
    let pos = at ?? view.state.selection.main.head;
    for (const file of files) {
      status.textContent = `Uploading ${file.name}…`;
      try {
        const url = await uploadImage(file);
        const alt = askAlt(file.name);
        pos = insertBlock(view, Math.min(pos, view.state.doc.length), `![${alt}](${url})`);
        status.textContent = `Added ${file.name}.`;
      } catch (err) {
        status.textContent = err instanceof Error ? err.message : 'The upload failed.';
      }
    }
  }

  const image: Command = (view) => {
    fileInput.onchange = () => {
      void insertImages(view, imageFiles(fileInput.files));
      fileInput.value = '';
    };
    fileInput.click();
    return true;
  };

  const commands: Record<string, Command> = {
    heading: linePrefix('## '),
    bold: wrap('**', '**', 'bold text'),
    italic: wrap('_', '_', 'italic text'),
    link,
    quote: linePrefix('> '),
    list: linePrefix('- '),
    image,
    divider: block('---'),
    cut: block('<!--more-->'),
    referral: block('{{referral}}'),
  };

  const view = new EditorView({
    parent: host,
    doc: textarea.value,
    extensions: [
      minimalSetup,
      markdown(),
      EditorView.lineWrapping,
      placeholder('Write here. Drop or paste images; select text and use the toolbar.'),
      EditorView.contentAttributes.of({ 'aria-labelledby': 'post-markdown-label', 'aria-multiline': 'true', role: 'textbox' }),
      keymap.of([
        { key: 'Mod-b', run: commands.bold! },
        { key: 'Mod-i', run: commands.italic! },
        { key: 'Mod-k', run: link },
        { key: 'Mod-Alt-2', run: commands.heading! },
        { key: 'Mod-Shift-9', run: commands.quote! },
        { key: 'Mod-Shift-8', run: commands.list! },
      ]),
      EditorView.domEventHandlers({
        paste(event, v) {
          const files = imageFiles(event.clipboardData?.files);
          if (files.length === 0) return false;
          event.preventDefault();
          void insertImages(v, files);
          return true;
        },
        drop(event, v) {
          const files = imageFiles(event.dataTransfer?.files);
          if (files.length === 0) return false;
          event.preventDefault();
          const at = v.posAtCoords({ x: event.clientX, y: event.clientY }) ?? v.state.selection.main.head;
          void insertImages(v, files, at);
          return true;
        },
      }),
      EditorView.updateListener.of((update) => {
        if (!update.docChanged) return;
        textarea.value = update.state.doc.toString();
        form.dispatchEvent(new Event('input'));
      }),
    ],
  });
  // The textarea stays the form's field (and the no-script editor); the label now names CodeMirror.
  textarea.hidden = true;
  textarea.removeAttribute('id');
  form.querySelector<HTMLLabelElement>('#post-markdown-label')!.htmlFor = '';
  form.querySelector<HTMLLabelElement>('#post-markdown-label')!.addEventListener('click', () => view.focus());

  // The preview follows the text, so the no-script "Preview" submit button is not needed.
  const submitPreview = form.querySelector<HTMLButtonElement>('button[name=intent][value=preview]');
  if (submitPreview) submitPreview.hidden = true;

  const toolbar = form.querySelector<HTMLElement>('[data-toolbar]')!;
  toolbar.hidden = false;
  toolbar.addEventListener('click', (event) => {
    const cmd = (event.target as HTMLElement).closest<HTMLElement>('[data-cmd]')?.dataset.cmd;
    if (cmd && commands[cmd]) commands[cmd](view);
  });
  toolbar.querySelector<HTMLSelectElement>('[data-poll-choice]')?.addEventListener('change', (event) => {
    const select = event.target as HTMLSelectElement;
    if (select.value) block(`{{poll:${select.value}}}`)(view);
    select.value = '';
  });

  // Narrow screens: Write / Preview. Wide screens show both (CSS hides the toggle).
  const panes = form.querySelector<HTMLElement>('[data-panes]')!;
  const toggle = form.querySelector<HTMLElement>('[data-pane-toggle]')!;
  form.querySelector('[data-editor]')!.classList.add('enhanced');
  toggle.hidden = false;
  toggle.addEventListener('click', (event) => {
    const pane = (event.target as HTMLElement).closest<HTMLElement>('[data-pane]')?.dataset.pane;
    if (!pane) return;
    panes.dataset.show = pane;
    for (const b of toggle.querySelectorAll<HTMLElement>('[data-pane]')) b.setAttribute('aria-pressed', String(b.dataset.pane === pane));
  });

  // The feature image field (upload in place, recent uploads) is components/ImageField.astro's own island.

  // Autosave and the live preview.
  const key = form.dataset.autosaveKey!;
  const fields = ['title', 'slug', 'markdown', 'excerpt', 'tags'] as const;
  const read = () => Object.fromEntries(fields.map((f) => [f, (form.elements.namedItem(f) as HTMLInputElement | null)?.value ?? '']));
  const initial = JSON.stringify(read());
  if (new URLSearchParams(location.search).get('saved') === '1') localStorage.removeItem(key);
  const stored = localStorage.getItem(key);
  const banner = document.querySelector<HTMLElement>('[data-testid="restore"]');
  if (stored && stored !== initial && banner) {
    banner.hidden = false;
    banner.querySelector('[data-restore]')?.addEventListener('click', () => {
      const values = JSON.parse(stored) as Record<string, string>;
      for (const f of fields) {
        const el = form.elements.namedItem(f) as HTMLInputElement | null;
        if (el && typeof values[f] === 'string') el.value = values[f];
      }
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: textarea.value } });
      banner.hidden = true;
      form.dispatchEvent(new Event('input'));
    });
    banner.querySelector('[data-discard]')?.addEventListener('click', () => {
      localStorage.removeItem(key);
      banner.hidden = true;
    });
  }
  const target = form.querySelector<HTMLElement>('[data-live-preview] .post-preview');
  let timer: ReturnType<typeof setTimeout> | undefined;
  form.addEventListener('input', () => {
    const now = JSON.stringify(read());
    if (now !== initial) localStorage.setItem(key, now);
    const stats = readingStats(textarea.value);
    words.textContent = String(stats.words);
    minutes.textContent = String(stats.minutes);
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const res = await fetch('/admin/posts/preview', { method: 'POST', body: new URLSearchParams({ markdown: textarea.value }) });
        if (res.ok && target) target.innerHTML = await res.text(); // the server's sanitised rendering
      } catch {
        // offline: the preview waits; the text is safe in storage
      }
    }, 400);
  });
}
