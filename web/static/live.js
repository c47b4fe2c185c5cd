// Keeps what a person has typed or picked in a live page's forms across the
// re-fetches that keep the page current (the "live" block of
// web/templates/layout.html): a field they changed keeps its value in the
// new content, and the focus stays in it. A field is known by its form's
// action and its name, so it survives the cards around it changing. When a
// re-fetch fails (the session ended, the console is unreachable) the page
// says it is out of date rather than silently going stale.
(function () {
  'use strict';
  var kept = null;
  var staleText = 'This page could not refresh itself; reload it to see changes.';

  function notice() { return document.querySelector('.live [data-testid="live-ended"]'); }

  function stale(e) {
    var p = notice();
    if (!p || !e.target.closest || !e.target.closest('.live')) return;
    if (!p.textContent) {
      p.textContent = staleText;
      p.dataset.stale = '1';
    }
  }
  document.addEventListener('htmx:sendError', stale);
  document.addEventListener('htmx:responseError', stale);

  function key(el) {
    var action = el.form ? el.form.getAttribute('action') : '';
    var k = action + '|' + (el.name || el.id);
    if (el.type === 'checkbox' || el.type === 'radio') k += '|' + el.value;
    return k;
  }

  function fields(root) {
    return Array.prototype.filter.call(root.querySelectorAll('input, select, textarea'), function (el) {
      return el.type !== 'hidden' && el.type !== 'submit' && el.type !== 'button';
    });
  }

  function changed(el) {
    if (el.type === 'checkbox' || el.type === 'radio') return el.checked !== el.defaultChecked;
    if (el.tagName === 'SELECT') {
      return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return el.value !== el.defaultValue;
  }

  document.addEventListener('htmx:beforeSwap', function (e) {
    var content = document.getElementById('live-content');
    if (!e.detail.shouldSwap || !content || e.detail.target !== content) return;
    kept = { values: {}, focus: null };
    fields(content).forEach(function (el) {
      if (changed(el)) kept.values[key(el)] = el.type === 'checkbox' || el.type === 'radio' ? { checked: el.checked } : { value: el.value };
    });
    var active = document.activeElement;
    if (active && content.contains(active) && (active.name || active.id)) {
      kept.focus = { key: key(active), start: active.selectionStart, end: active.selectionEnd };
    }
  });

  document.addEventListener('htmx:afterSwap', function (e) {
    // Raised on what was swapped in: here, the new content.
    if (e.target.id !== 'live-content') return;
    var p = notice();
    if (p && p.dataset.stale) {
      p.textContent = '';
      delete p.dataset.stale;
    }
    var content = document.getElementById('live-content');
    if (!kept || !content) return;
    var k = kept;
    kept = null;
    fields(content).forEach(function (el) {
      var v = k.values[key(el)];
      if (v && 'checked' in v) el.checked = v.checked;
      else if (v) el.value = v.value;
      if (k.focus && k.focus.key === key(el) && document.activeElement !== el) {
        el.focus();
        if (k.focus.start != null && el.setSelectionRange) {
          try { el.setSelectionRange(k.focus.start, k.focus.end); } catch (ignored) { /* not a text field */ }
        }
      }
    });
  });
})();
