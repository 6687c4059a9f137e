/* Search result snippets that show the page's text (fovex_lib.tools.book_site loads this
 * after Sphinx's searchtools.js).
 *
 * Sphinx takes a result's snippet from the text of the page's [role="main"] element and
 * centres it on the first place where a search term occurs. Two things go wrong with
 * Jupyter Book's theme: that element starts with the download buttons (".ipynb", ".md",
 * ".pdf") and a hidden table of contents, and the search terms are word stems
 * ("memory" -> "memori") that often occur nowhere in the text, so the snippet fell back
 * to the start of the element: "....ipynb". Here the text is taken from the article
 * alone, and a term is looked up by its stem, then by shorter prefixes of it, then by
 * the words the reader typed.
 */
(function () {
  "use strict";
  if (typeof Search === "undefined") return;

  const articleText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    const root = doc.querySelector("article.bd-article") || doc.querySelector('[role="main"]');
    if (!root) return "";
    for (const query of [".headerlink", "script", "style", "#jb-print-docs-body", ".bd-header-article"]) {
      root.querySelectorAll(query).forEach((el) => el.remove());
    }
    let block = root;
    if (anchor) {
      try {
        block = root.querySelector(anchor) || root;
      } catch (error) {
        block = root;  // an anchor that is not a valid selector
      }
    }
    return (block.textContent || "").replace(/\s+/g, " ").trim();
  };

  const firstMatch = (textLower, terms) => {
    let best = -1;
    for (const term of terms) {
      const word = term.toLowerCase();
      for (let n = word.length; n >= Math.min(word.length, 4); n--) {
        const at = textLower.indexOf(word.slice(0, n));
        if (at > -1) {
          if (best < 0 || at < best) best = at;
          break;
        }
      }
    }
    return best;
  };

  Search.htmlToText = articleText;
  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    const text = articleText(htmlText, anchor);
    if (text === "") return null;
    const typed = (new URLSearchParams(window.location.search).get("q") || "")
      .split(/\s+/)
      .filter((word) => word && !word.startsWith("-"));
    const at = firstMatch(text.toLowerCase(), [...keywords, ...typed]);
    const start = Math.max((at < 0 ? 0 : at) - 120, 0);
    const summary = document.createElement("p");
    summary.classList.add("context");
    summary.textContent =
      (start > 0 ? "..." : "") + text.substr(start, 240).trim() + (start + 240 < text.length ? "..." : "");
    return summary;
  };
})();
