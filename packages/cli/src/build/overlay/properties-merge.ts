// Merges `.properties` overlays key by key into the original, keeping its comments, order and
// separators; a key the original lacks is added at the end.
import { getProperties } from 'properties-file';
import { PropertiesEditor } from 'properties-file/editor';

export interface PropertiesSource {
  file: string;
  text: string;
}

export function mergePropertiesFiles(base: PropertiesSource, overlays: PropertiesSource[]): string {
  const editor = new PropertiesEditor(base.text);
  for (const overlay of overlays) {
    for (const [key, value] of Object.entries(getProperties(overlay.text))) {
      // \uXXXX for non-ASCII: java.util.Properties.load(InputStream) reads ISO-8859-1
      editor.upsert(key, value, { escapeUnicode: true });
    }
  }
  const text = editor.format();
  return base.text.endsWith('\n') && !text.endsWith('\n') ? `${text}\n` : text;
}
