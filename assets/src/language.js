// Open a form in the language its reader asked for, among the form's own languages.
//
// Web Forms starts in the XForm's default translation (the first <translation> with a
// `default` attribute, else the first one) and offers the others in its language menu. To start
// in another, the page moves the `default` attribute before handing the XForm over: the same
// switch an XLSForm's `default_language` setting makes. XLSForm names languages like
// "French (fr)"; a wish matches the whole name or the code in brackets, then by primary subtag
// ("fr-CA" finds "French (fr)").
const XFORMS_NS = 'http://www.w3.org/2002/xforms';

/** The code in an XLSForm language name, lower case: "French (fr)" -> "fr". */
export function languageCode(name) {
  const found = /\(([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)\)\s*$/.exec(name);
  return (found ? found[1] : name).toLowerCase().replace(/_/g, '-');
}

/** The first of `wishes` (BCP 47 tags or language names) that one of `names` satisfies. */
export function chooseLanguage(names, wishes) {
  for (const wish of wishes.filter(Boolean)) {
    const wanted = wish.toLowerCase().replace(/_/g, '-');
    const exact = names.find((n) => n.toLowerCase() === wanted || languageCode(n) === wanted);
    if (exact) return exact;
    const primary = wanted.split('-')[0];
    const close = names.find((n) => languageCode(n).split('-')[0] === primary);
    if (close) return close;
  }
  return null;
}

/** The XForm, with its default translation set to the best match for `wishes`. */
export function withLanguage(xformText, wishes) {
  const doc = new DOMParser().parseFromString(xformText, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length > 0) return xformText;
  const translations = [...doc.getElementsByTagNameNS(XFORMS_NS, 'translation')];
  if (translations.length < 2) return xformText;
  const chosen = chooseLanguage(
    translations.map((t) => t.getAttribute('lang') ?? ''),
    wishes,
  );
  const current = translations.find((t) => t.hasAttribute('default')) ?? translations[0];
  if (chosen === null || chosen === current.getAttribute('lang')) return xformText;
  for (const translation of translations) translation.removeAttribute('default');
  translations.find((t) => t.getAttribute('lang') === chosen).setAttribute('default', 'true()');
  return new XMLSerializer().serializeToString(doc);
}
