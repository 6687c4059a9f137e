/* Loaded just before the Jupyter widgets HTML manager (_config.yml: nb_ipywidgets_js), on
 * pages of notebooks that store widget state.
 *
 * 1. The manager loads its icon fonts from the folder of its RequireJS module, by default
 *    "<page folder>/@jupyter-widgets/html-manager/dist/", which does not exist on this
 *    site: map that module folder to the one the site serves, _static/jupyter-widgets/.
 * 2. ipywidgets 8 typesets widget labels with MathJax 2's API (MathJax.Hub.Queue), which
 *    MathJax 3 (this site's) does not have: every widget then throws an error. Give
 *    MathJax 3 a small Hub.Queue that typesets the element with MathJax 3's API.
 */
(function () {
  "use strict";
  const here = document.currentScript && document.currentScript.src;
  if (here) {
    const assets = new URL("jupyter-widgets/", here).href;
    window.__jupyter_widgets_assets_path__ = assets;
    if (window.require && typeof window.require.config === "function") {
      window.require.config({paths: {"@jupyter-widgets/html-manager/dist": assets.replace(/\/$/, "")}});
    }
  }

  const addHub = () => {
    const mj = window.MathJax;
    if (!mj || mj.Hub) return;
    mj.Hub = {
      Queue: (...jobs) => {
        for (const job of jobs) {
          const element = Array.isArray(job) && job[0] === "Typeset" ? job[2] : null;
          if (element && typeof mj.typesetPromise === "function") {
            mj.typesetPromise([element]).catch(() => {});
          }
        }
      },
    };
  };
  addHub();  // MathJax 3 may already be loaded
  // MathJax is loaded with "defer": it replaces window.MathJax before DOMContentLoaded,
  // and the widgets are drawn after that.
  document.addEventListener("DOMContentLoaded", addHub);
})();
