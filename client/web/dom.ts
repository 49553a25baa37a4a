/** The page's element of this id (the pages' HTML is in src/http/web-routes.ts). */
export const el = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T

/** A new element holding `text`, with these classes. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, text = '', ...classes: string[]): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag)
  made.textContent = text
  made.classList.add(...classes)
  return made
}
