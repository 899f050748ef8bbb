/** ISO codes and names are interned by letter pair so that lookups return shared strings. */
const codes: string[] = [];
const intlNames: string[] = [];
let displayNames: Intl.DisplayNames | undefined;

/** Letter pair of 'ZZ', the ISO code for an unknown region; it is reported as empty. */
export const UNKNOWN_REGION = 25 * 26 + 25;

/** The two-letter code for a letter pair index ((first - 'A') * 26 + (second - 'A')). */
export function isoCode(pair: number): string {
  let code = codes[pair];
  if (code === undefined) {
    code = String.fromCharCode(65 + Math.floor(pair / 26), 65 + (pair % 26));
    codes[pair] = code;
  }
  return code;
}

/** English country name from the runtime's ICU data, cached per letter pair. */
export function intlNameOfPair(pair: number): string {
  let name = intlNames[pair];
  if (name === undefined) {
    name = intlCountryName(isoCode(pair));
    intlNames[pair] = name;
  }
  return name;
}

/** English name of an ISO 3166-1 alpha-2 code; '' when the runtime does not know it. */
export function intlCountryName(code: string): string {
  try {
    displayNames ??= new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
    return displayNames.of(code) ?? '';
  } catch {
    return '';
  }
}
