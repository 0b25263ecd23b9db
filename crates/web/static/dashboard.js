// Tracemark: the regulator's dashboard (/dashboard) and the business cabinet (/cabinet).
//
// Plain script, no build step, no dependencies. The page is a shell; this script
//  1. signs in: a token from the URL fragment (#token=…, moved to sessionStorage and
//     removed from the address bar at once: a fragment never reaches a server or its
//     logs), or TIN + Ed25519 secret key, signing the registry's challenge with WebCrypto
//     (the key never leaves the page: only the signature is sent);
//  2. fills every section from the API, as the API scopes it to the caller (the page
//     never asks for another participant's goods), with hand-drawn SVG charts, each with
//     a title, a summary and a table of its numbers (not colour alone);
//  3. polls every 2 s (alerts and complaints incrementally: only what changed), backs
//     off on errors and says "live" or "offline".
// Every piece of data reaches the DOM through textContent or setAttribute, never as HTML.
'use strict';

(() => {
  const DATA = JSON.parse(document.getElementById('page-data').textContent);
  const S = DATA.strings;
  const PAGE = DATA.page;
  const LANG = DATA.lang;
  const REGIONS = new Map(DATA.regions.map((r) => [r.code, r]));

  const POLL_MS = 2000;
  const BACKOFF_MAX_MS = 30000;
  // Heavier, slower-moving sections (stock, risk, recalls, regions) every 5th poll.
  const SLOW_EVERY = 5;
  const TOKEN_KEY = 'tracemark.token';
  const MESSAGE_KEY = 'tracemark.signin-message';
  const ALERTS_SHOWN_MAX = 200;
  const LIST_SHOWN_MAX = 15;
  const CODES_SHOWN_MAX = 5;
  const BARS_SHOWN_MAX = 12;
  const HOURS = 48;
  const DAYS = 30;
  const SVGNS = 'http://www.w3.org/2000/svg';
  // PKCS#8 for an Ed25519 private key is this prefix followed by the 32-byte seed
  // (RFC 8410): WebCrypto imports seeds only in this wrapping.
  const PKCS8_ED25519_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

  const $ = (id) => document.getElementById(id);
  const nfmt = new Intl.NumberFormat(LANG);
  const num = (n) => nfmt.format(n);

  // The fragment's token goes first, before anything can read or log the address.
  (() => {
    const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (!m) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    } finally {
      history.replaceState(null, '', location.pathname + location.search);
    }
  })();

  // ---------------------------------------------------------------------------------
  // DOM helpers: text only
  // ---------------------------------------------------------------------------------

  function fill(t, args) {
    return t.replace(/\{(\w+)\}/g, (m, k) => (k in args ? String(args[k]) : m));
  }

  function setup(e, attrs, kids) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const k of kids.flat(2)) {
      if (k !== undefined && k !== null && k !== false) e.append(k instanceof Node ? k : String(k));
    }
    return e;
  }

  /** An HTML element; strings among `kids` become text nodes. */
  const h = (tag, attrs, ...kids) => setup(document.createElement(tag), attrs, kids);
  /** An SVG element. */
  const s = (tag, attrs, ...kids) => setup(document.createElementNS(SVGNS, tag), attrs, kids);

  const time = (iso) => {
    const d = new Date(iso);
    return h('time', { datetime: iso }, Number.isNaN(d.getTime()) ? iso : d.toLocaleString(LANG));
  };
  const fromUnix = (secs) => new Date(secs * 1000).toISOString();
  const regionName = (code) => (REGIONS.get(code) || { name: code }).name;
  const kindWord = (k) => S.kinds[k] || k;

  // ---------------------------------------------------------------------------------
  // The API
  // ---------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(path, opts = {}) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token && !opts.anonymous) headers.Authorization = 'Bearer ' + token;
    if (opts.body) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method: opts.method || 'GET',
      headers,
      body: opts.body ? JSON.stringify(opts.body) : undefined,
      cache: 'no-store',
      credentials: 'omit',
    });
    if (!r.ok) {
      let detail = r.status + ' ' + r.statusText;
      try {
        const p = await r.json();
        detail = p.detail || p.title || detail;
      } catch (_) {
        // Not a problem document: the status says enough.
      }
      throw new ApiError(r.status, detail);
    }
    return r.json();
  }

  /** Runs a section's loader; a refusal of that one section (403, 404, 400) is shown in
   * its place and the rest goes on; a lost network, a 5xx or a 401 is everybody's. */
  async function guarded(target, fn) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 401) {
        const box = $(target);
        if (box) box.replaceChildren(h('p', { class: 'unavailable' }, fill(S.unavailable, { reason: e.message })));
        return undefined;
      }
      throw e;
    }
  }

  const ago = (ms) => new Date(Date.now() - ms).toISOString().replace(/\.\d+Z$/, 'Z');

  // ---------------------------------------------------------------------------------
  // Sign-in
  // ---------------------------------------------------------------------------------

  function b64decode(text) {
    let t = text.trim().replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/');
    while (t.length % 4) t += '=';
    const bin = atob(t);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  function b64encode(buf) {
    let bin = '';
    for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  async function signWithKey(tin, keyText) {
    let seed;
    try {
      seed = b64decode(keyText);
    } catch (_) {
      throw new Error(S.signin_bad_key);
    }
    if (seed.length !== 32) throw new Error(S.signin_bad_key);
    if (!window.crypto || !crypto.subtle) throw new Error(S.signin_no_webcrypto);
    const pkcs8 = new Uint8Array(48);
    pkcs8.set(PKCS8_ED25519_PREFIX);
    pkcs8.set(seed, 16);
    seed.fill(0);
    let key;
    try {
      // Not extractable: the page itself cannot read the key back out.
      key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
    } catch (_) {
      throw new Error(S.signin_no_webcrypto);
    } finally {
      pkcs8.fill(0);
    }
    const ch = await api('/api/v1/auth/challenge?tin=' + encodeURIComponent(tin), { anonymous: true });
    const sig = await crypto.subtle.sign({ name: 'Ed25519' }, key, new TextEncoder().encode(ch.data));
    const t = await api('/api/v1/auth/token', {
      method: 'POST',
      anonymous: true,
      body: { challenge_id: ch.challenge_id, signature: b64encode(sig) },
    });
    sessionStorage.setItem(TOKEN_KEY, t.token);
  }

  function showSignIn() {
    const form = $('signin-form');
    const err = $('signin-error');
    const submit = $('signin-submit');
    const keyField = $('signin-key');
    const file = $('signin-file');
    let fileKey = '';
    $('signin').hidden = false;
    const message = sessionStorage.getItem(MESSAGE_KEY);
    if (message) {
      err.textContent = message;
      sessionStorage.removeItem(MESSAGE_KEY);
    }
    setStatus('idle');
    file.addEventListener('change', async () => {
      const f = file.files && file.files[0];
      // Read into this closure only: not shown, not stored.
      fileKey = f ? (await f.text()).trim() : '';
      // Said on the field (not the key): a test waits for it rather than for a time.
      file.dataset.loaded = fileKey ? 'yes' : 'no';
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const tin = $('signin-tin').value.trim();
      const keyText = keyField.value.trim() || fileKey;
      if (!tin) {
        err.textContent = S.signin_no_tin;
        return;
      }
      submit.disabled = true;
      err.textContent = S.signin_busy;
      try {
        await signWithKey(tin, keyText);
        keyField.value = '';
        file.value = '';
        fileKey = '';
        location.replace(location.pathname + location.search);
      } catch (e) {
        err.textContent = fill(S.signin_failed, { reason: e.message });
        submit.disabled = false;
      }
    });
    submit.disabled = false;
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (message) sessionStorage.setItem(MESSAGE_KEY, message);
    location.replace(location.pathname + location.search);
  }

  // ---------------------------------------------------------------------------------
  // Status
  // ---------------------------------------------------------------------------------

  function setStatus(state) {
    const e = $('live-status');
    if (state === 'idle') {
      e.hidden = true;
      return;
    }
    e.hidden = false;
    if (e.dataset.state !== state) {
      e.dataset.state = state;
      e.querySelector('.status-text').textContent = S[state];
    }
    // Not in the live region's text: announcing the clock every 2 s would drown a screen
    // reader.
    if (state === 'live') e.title = fill(S.updated, { time: new Date().toLocaleTimeString(LANG) });
  }

  // ---------------------------------------------------------------------------------
  // Charts: SVG with a title and summary, and the numbers as a table
  // ---------------------------------------------------------------------------------

  function numbersTable(rows, label, cols) {
    const extra = cols || [];
    return h('details', { class: 'numbers' },
      h('summary', {}, S.show_table),
      h('table', {},
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, label.head),
          h('th', { scope: 'col', class: 'num' }, S.units),
          ...extra.map((c) => h('th', { scope: 'col', class: 'num' }, c.head)))),
        h('tbody', {}, ...rows.map((r) => h('tr', { 'data-key': r.key },
          h('td', {}, label.of(r.key)),
          h('td', { class: 'num units', 'data-units': r.units }, num(r.units)),
          ...extra.map((c) => h('td', { class: 'num ' + c.cls, ['data-' + c.cls]: c.of(r.key) }, num(c.of(r.key)))))))));
  }

  function keyTime(k) {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?$/.exec(k);
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0)) : NaN;
  }

  /** Rows of a time series with the empty periods between its first and last filled in
   * (a gap is a zero, not a shorter axis), at most `n` periods. */
  function timeline(rows, hourly, n) {
    const step = hourly ? 3600e3 : 86400e3;
    const by = new Map(rows.map((r) => [r.key, r.units]));
    const ts = rows.map((r) => keyTime(r.key)).filter(Number.isFinite);
    if (!ts.length) return [];
    const last = Math.max(...ts);
    const first = Math.max(Math.min(...ts), last - (n - 1) * step);
    const out = [];
    for (let t = first; t <= last; t += step) {
      const k = new Date(t).toISOString().slice(0, hourly ? 13 : 10);
      out.push({ key: k, units: by.get(k) || 0 });
    }
    return out;
  }

  const periodLabel = (hourly) => {
    const f = new Intl.DateTimeFormat(LANG, hourly
      ? { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' }
      : { day: 'numeric', month: 'short', timeZone: 'UTC' });
    return { head: S.col_period, of: (k) => (Number.isFinite(keyTime(k)) ? f.format(keyTime(k)) : k) };
  };

  /** A column chart of a time series into `box`, with its total. */
  function columns(box, rows, total, label) {
    box.dataset.total = total;
    box.replaceChildren();
    if (!rows.length) {
      box.append(h('p', { class: 'empty' }, S.no_data));
      return;
    }
    // Wide and low: a time axis reads left to right, and the chart stays short on a desktop.
    const W = 1200;
    const H = 170;
    const left = 44;
    const max = Math.max(1, ...rows.map((r) => r.units));
    const peak = rows.reduce((a, r) => (r.units > a.units ? r : a), rows[0]);
    const summary = fill(S.chart_summary, { units: num(total), periods: rows.length, max: num(peak.units), key: label.of(peak.key) });
    const svg = s('svg', { viewBox: `0 0 ${W} ${H + 24}`, role: 'img', 'aria-label': summary, class: 'columns' }, s('title', {}, summary));
    const bw = (W - left) / rows.length;
    svg.append(
      s('line', { x1: left, x2: W, y1: 8, y2: 8, class: 'grid' }),
      s('line', { x1: left, x2: W, y1: H, y2: H, class: 'axis-line' }),
      s('text', { x: left - 6, y: 12, 'text-anchor': 'end', class: 'axis' }, num(max)),
      s('text', { x: left - 6, y: H, 'text-anchor': 'end', class: 'axis' }, '0'));
    rows.forEach((r, i) => {
      const bh = (r.units / max) * (H - 8);
      svg.append(s('g', { class: 'bar' },
        s('title', {}, `${label.of(r.key)}: ${num(r.units)} ${S.units}`),
        s('rect', { x: (left + i * bw + 1).toFixed(1), y: (H - bh).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: bh.toFixed(1) })));
    });
    const ticks = [...new Set([0, Math.floor(rows.length / 2), rows.length - 1])];
    for (const i of ticks) {
      // The outermost labels hang inwards, so that they are never cut off.
      const anchor = ticks.length > 1 && i === 0 ? 'start' : ticks.length > 1 && i === rows.length - 1 ? 'end' : 'middle';
      const x = anchor === 'start' ? left + i * bw : anchor === 'end' ? left + (i + 1) * bw : left + i * bw + bw / 2;
      svg.append(s('text', { x: x.toFixed(1), y: H + 18, 'text-anchor': anchor, class: 'axis' }, label.of(rows[i].key)));
    }
    box.append(svg,
      h('p', { class: 'total' }, `${S.total}: `, h('strong', { class: 'total-units' }, num(total)), ` ${S.units}`),
      numbersTable(rows.filter((r) => r.units), label));
  }

  /** Horizontal bars of categories (largest first) into `box`; the table lists them all,
   * with `cols` beside the units. */
  function bars(box, rows, label, cols) {
    const sorted = rows.slice().sort((a, b) => b.units - a.units);
    const total = sorted.reduce((a, r) => a + r.units, 0);
    box.dataset.total = total;
    box.replaceChildren();
    if (!sorted.length) {
      box.append(h('p', { class: 'empty' }, S.no_data));
      return;
    }
    const shown = sorted.slice(0, BARS_SHOWN_MAX);
    const W = 480;
    const row = 24;
    const left = 170;
    const max = Math.max(1, ...shown.map((r) => r.units));
    const summary = shown.map((r) => `${label.of(r.key)}: ${num(r.units)}`).join('; ');
    const svg = s('svg', { viewBox: `0 0 ${W} ${shown.length * row}`, role: 'img', 'aria-label': summary, class: 'bars' }, s('title', {}, summary));
    shown.forEach((r, i) => {
      const w = Math.max(1, (r.units / max) * (W - left - 70));
      const name = label.of(r.key);
      svg.append(s('g', { class: 'bar' },
        s('title', {}, `${name}: ${num(r.units)} ${S.units}`),
        s('text', { x: left - 8, y: i * row + 16, 'text-anchor': 'end', class: 'label' }, name.length > 24 ? name.slice(0, 23) + '…' : name),
        s('rect', { x: left, y: i * row + 4, width: w.toFixed(1), height: row - 8 }),
        s('text', { x: left + w + 6, y: i * row + 16, class: 'value' }, num(r.units))));
    });
    box.append(svg, numbersTable(sorted, label, cols));
  }

  // ---------------------------------------------------------------------------------
  // The region map and table
  // ---------------------------------------------------------------------------------

  // Russia from Kaliningrad (19° E) to Chukotka (180°), 41° to 72° N, as a plain
  // equirectangular sketch: enough to tell the west from the Far East.
  const MAP = { w: 1000, h: 420, lon0: 19, lon1: 181, lat0: 41, lat1: 72, pad: 24 };
  const project = (lat, lon) => [
    MAP.pad + ((lon - MAP.lon0) / (MAP.lon1 - MAP.lon0)) * (MAP.w - 2 * MAP.pad),
    MAP.pad + ((MAP.lat1 - lat) / (MAP.lat1 - MAP.lat0)) * (MAP.h - 2 * MAP.pad),
  ];

  const regionState = { sales: new Map(), stock: new Map(), sort: 'sales', dir: -1 };

  function drawMap() {
    const box = $('region-map');
    const sales = regionState.sales;
    const max = Math.max(1, ...sales.values());
    const svg = s('svg', { viewBox: `0 0 ${MAP.w} ${MAP.h}`, role: 'img', 'aria-label': S.map_alt, class: 'map-svg' }, s('title', {}, S.map_alt));
    for (const r of REGIONS.values()) {
      const [x, y] = project(r.lat, r.lon);
      svg.append(s('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 3, class: 'base' }, s('title', {}, r.name)));
    }
    // Largest first, so that small dots stay on top and can be pointed at.
    const sold = [...sales.entries()].filter(([c, u]) => u > 0 && REGIONS.has(c)).sort((a, b) => b[1] - a[1]);
    for (const [code, units] of sold) {
      const r = REGIONS.get(code);
      const [x, y] = project(r.lat, r.lon);
      const radius = 5 + 28 * Math.sqrt(units / max);
      const label = fill(S.map_dot, { region: r.name, units: num(units) });
      svg.append(s('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: radius.toFixed(1), class: 'sold', 'data-region': code }, s('title', {}, label)));
    }
    box.replaceChildren(svg);
  }

  function drawRegionTable() {
    const { sales, stock, sort, dir } = regionState;
    const codes = [...new Set([...sales.keys(), ...stock.keys()])];
    const value = (c) => (sort === 'region' ? regionName(c) : (sort === 'sales' ? sales : stock).get(c) || 0);
    codes.sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      const c = typeof va === 'string' ? va.localeCompare(vb, LANG) : va - vb;
      return c * dir || regionName(a).localeCompare(regionName(b), LANG);
    });
    const table = $('regions-table');
    for (const th of table.querySelectorAll('th[data-sort]')) {
      th.setAttribute('aria-sort', th.dataset.sort === sort ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    table.tBodies[0].replaceChildren(...codes.map((c) => h('tr', { 'data-region': c },
      h('th', { scope: 'row', class: 'region' }, regionName(c)),
      h('td', { class: 'num sales', 'data-sales': sales.get(c) || 0 }, num(sales.get(c) || 0)),
      h('td', { class: 'num stock', 'data-stock': stock.get(c) || 0 }, num(stock.get(c) || 0)))));
    if (!codes.length) table.tBodies[0].append(h('tr', {}, h('td', { colspan: 3, class: 'empty' }, S.no_data)));
  }

  function wireSorting() {
    for (const th of document.querySelectorAll('#regions-table th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => {
        const key = th.dataset.sort;
        regionState.dir = regionState.sort === key ? -regionState.dir : (key === 'region' ? 1 : -1);
        regionState.sort = key;
        drawRegionTable();
      });
    }
  }

  const toMap = (page) => new Map(((page && page.rows) || []).map((r) => [r.key, r.units]));

  async function loadRegions() {
    await guarded('region-map', async () => {
      const [sales, stock] = await Promise.all([
        api('/api/v1/analytics/sales?group_by=region'),
        api('/api/v1/analytics/stock?group_by=region'),
      ]);
      regionState.sales = toMap(sales);
      regionState.stock = toMap(stock);
      drawMap();
      drawRegionTable();
    });
  }

  // ---------------------------------------------------------------------------------
  // Sales, stock, flows
  // ---------------------------------------------------------------------------------

  const totalOf = (page) => (typeof page.total === 'number' ? page.total : page.rows.reduce((a, r) => a + r.units, 0));

  async function loadSeries(target, hourly) {
    await guarded(target, async () => {
      const from = ago((hourly ? HOURS : DAYS * 24) * 3600e3);
      const page = await api(`/api/v1/analytics/sales?group_by=${hourly ? 'hour' : 'day'}&from=${encodeURIComponent(from)}`);
      columns($(target), timeline(page.rows || [], hourly, hourly ? 2 * HOURS : DAYS + 1), totalOf(page), periodLabel(hourly));
    });
  }

  const plain = (head) => ({ head, of: (k) => k });
  const regionLabel = { head: S.col_region, of: regionName };

  async function loadGroups() {
    await guarded('groups', async () => {
      const [sales, stock] = await Promise.all([
        api('/api/v1/analytics/sales?group_by=product_group'),
        api('/api/v1/analytics/stock?group_by=product_group'),
      ]);
      const st = toMap(stock);
      bars($('groups'), sales.rows || [], plain(S.col_group), [{ head: S.col_stock, cls: 'stock', of: (k) => st.get(k) || 0 }]);
    });
  }

  async function loadBars(target, path, head) {
    await guarded(target, async () => {
      const page = await api(path);
      bars($(target), page.rows || [], plain(head));
    });
  }

  async function loadFlows() {
    await guarded('flows', async () => {
      const page = await api(`/api/v1/analytics/flows?from=${encodeURIComponent(ago(DAYS * 86400e3))}`);
      const rows = (page.rows || []).slice().sort((a, b) => b.units - a.units).slice(0, 50);
      const box = $('flows');
      if (!rows.length) {
        box.replaceChildren(h('p', { class: 'empty' }, S.no_data));
        return;
      }
      box.replaceChildren(h('table', { class: 'flows' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, S.col_from), h('th', { scope: 'col' }, S.col_to), h('th', { scope: 'col', class: 'num' }, S.units))),
        h('tbody', {}, ...rows.map((r) => h('tr', { 'data-from': r.from, 'data-to': r.to },
          h('td', {}, regionName(r.from)), h('td', {}, regionName(r.to)),
          h('td', { class: 'num units', 'data-units': r.units }, num(r.units)))))));
    });
  }

  async function loadShops() {
    await guarded('shops', async () => {
      const [sales, stock] = await Promise.all([
        api('/api/v1/analytics/sales?group_by=participant'),
        api('/api/v1/analytics/stock?group_by=participant'),
      ]);
      const st = toMap(stock);
      const rows = [...new Set([...toMap(sales).keys(), ...st.keys()])].map((k) => ({ key: k, units: toMap(sales).get(k) || 0 }));
      bars($('shops'), rows, plain(S.col_shop), [{ head: S.col_stock, cls: 'stock', of: (k) => st.get(k) || 0 }]);
    });
  }

  // ---------------------------------------------------------------------------------
  // Alerts: incremental (`since=` the newest change seen), newest on top
  // ---------------------------------------------------------------------------------

  const alerts = new Map();
  let alertsSince = null;
  let alertsLoaded = false;

  const SEVERITY = {
    high: { icon: '▲', word: () => S.sev_high },
    medium: { icon: '◆', word: () => S.sev_medium },
    low: { icon: '●', word: () => S.sev_low },
  };
  const EVIDENCE_SHOWN = new Set(['codes', 'documents', 'count']);

  function listOf(items, cls) {
    const shown = items.slice(0, CODES_SHOWN_MAX);
    return h('ul', { class: 'tokens ' + cls },
      ...shown.map((c) => h('li', {}, h('code', {}, c))),
      items.length > shown.length ? h('li', { class: 'more' }, fill(S.more, { n: items.length - shown.length })) : null);
  }

  function short(v) {
    const t = typeof v === 'string' ? v : JSON.stringify(v);
    return t.length > 160 ? t.slice(0, 159) + '…' : t;
  }

  function alertNode(a, fresh) {
    const sev = SEVERITY[a.severity] || SEVERITY.low;
    const ev = a.evidence || {};
    const dl = h('dl', { class: 'evidence' });
    const item = (term, ...dd) => dl.append(h('dt', {}, term), h('dd', {}, ...dd));
    if (a.participant) item(S.alert_participant, a.participant_name ? `${a.participant_name} · ${a.participant}` : a.participant);
    if (a.subject && a.subject.type !== 'participant') {
      item(S.alert_subject, `${S['subject_' + a.subject.type] || a.subject.type}: `, h('code', {}, a.subject.value));
    }
    if (ev.codes && ev.codes.length) item(S.alert_codes, listOf(ev.codes, 'codes'));
    if (ev.documents && ev.documents.length) item(S.alert_documents, listOf(ev.documents, 'documents'));
    item(S.alert_count, h('span', { class: 'count' }, num(ev.count || 0)));
    item(S.alert_opened, time(a.at));
    if (a.updated_at !== a.at) item(S.alert_updated, time(a.updated_at));
    const others = Object.entries(ev).filter(([k]) => !EVIDENCE_SHOWN.has(k));
    if (others.length) {
      item(S.alert_details, h('ul', { class: 'details' }, ...others.map(([k, v]) => h('li', {}, h('span', { class: 'key' }, k + ': '), short(v)))));
    }
    const classes = ['alert', 'sev-' + (SEVERITY[a.severity] ? a.severity : 'low')];
    if (fresh) classes.push('fresh');
    if (a.acknowledged) classes.push('acked');
    return h('li', { class: classes.join(' '), 'data-id': a.id, 'data-kind': a.kind, 'data-severity': a.severity, 'data-participant': a.participant || '' },
      h('div', { class: 'alert-head' },
        h('span', { class: 'sev' }, h('span', { class: 'sev-icon', 'aria-hidden': 'true' }, sev.icon), ' ', sev.word()),
        h('strong', { class: 'kind' }, kindWord(a.kind)),
        time(a.updated_at)),
      dl,
      a.acknowledged ? h('p', { class: 'ack' }, fill(S.alert_acknowledged, { by: a.acknowledged.by }), a.acknowledged.note ? ` — ${a.acknowledged.note}` : '') : null);
  }

  async function loadAlerts() {
    const feed = $('alert-feed');
    const q = alertsSince ? `?since=${encodeURIComponent(alertsSince)}&limit=1000` : '?limit=100';
    const page = await api('/api/v1/alerts' + q);
    let changed = false;
    // Oldest first, so that each new one goes on top of the ones before it.
    for (const a of (page.alerts || []).slice().reverse()) {
      if (!alertsSince || a.updated_at > alertsSince) alertsSince = a.updated_at;
      const old = alerts.get(a.id);
      if (old && old.updated_at === a.updated_at && !!old.acknowledged === !!a.acknowledged) continue;
      changed = true;
      const node = alertNode(a, alertsLoaded && !old);
      if (old) {
        old.node.replaceWith(node);
      } else {
        const after = [...feed.children].find((li) => li.dataset.id && +li.dataset.id < a.id);
        feed.insertBefore(node, after || null);
      }
      alerts.set(a.id, { updated_at: a.updated_at, acknowledged: a.acknowledged, node });
    }
    while (feed.children.length > ALERTS_SHOWN_MAX) {
      const last = feed.lastElementChild;
      alerts.delete(+last.dataset.id);
      last.remove();
    }
    const empty = feed.querySelector('.empty');
    if (!alerts.size && !empty) feed.append(h('li', { class: 'empty' }, S.alerts_empty));
    if (alerts.size && empty) empty.remove();
    alertsLoaded = true;
    return changed;
  }

  // ---------------------------------------------------------------------------------
  // Risk, complaints, recalls
  // ---------------------------------------------------------------------------------

  async function loadRisk() {
    const page = await api('/api/v1/risk/participants?limit=10');
    const list = $('risk');
    const rows = page.participants || [];
    list.replaceChildren(...rows.map((p) => h('li', { 'data-tin': p.tin, 'data-score': p.score },
      h('div', { class: 'risk-head' },
        h('strong', { class: 'name' }, p.name), ` · ${p.tin} · ${regionName(p.region)} `,
        h('span', { class: 'score' }, fill(S.risk_score, { score: p.score.toFixed(1) }))),
      h('ul', { class: 'reasons' }, ...(p.reasons || []).map((r) => h('li', { 'data-kind': r.kind },
        fill(S.risk_reason, { kind: kindWord(r.kind), alerts: num(r.alerts), signals: num(r.signals), points: r.points.toFixed(1) })))))));
    if (!rows.length) list.append(h('li', { class: 'empty' }, S.risk_empty));
  }

  const complaints = [];
  let complaintsAfter = null;

  async function loadComplaints() {
    let q = complaintsAfter ? `?after=${complaintsAfter}&limit=1000` : `?from=${encodeURIComponent(ago(7 * 86400e3))}&limit=1000`;
    let fresh = false;
    // Oldest first, in pages; a bounded number of pages per poll.
    for (let pages = 0; pages < 10; pages++) {
      const page = await api('/api/v1/complaints' + q);
      for (const c of page.complaints || []) {
        complaints.push(c);
        complaintsAfter = c.id;
        fresh = true;
      }
      if (!page.next) break;
      complaintsAfter = page.next;
      q = `?after=${page.next}&limit=1000`;
    }
    if (complaints.length > LIST_SHOWN_MAX) complaints.splice(0, complaints.length - LIST_SHOWN_MAX);
    const list = $('complaints');
    if (!fresh && list.children.length) return;
    list.replaceChildren(...complaints.slice().reverse().map((c) => h('li', { class: 'complaint', 'data-id': c.id, 'data-kind': c.kind },
      h('div', { class: 'alert-head' }, h('strong', {}, S.complaint_kinds[c.kind] || c.kind), time(c.received_at)),
      c.text ? h('p', { class: 'quote' }, short(c.text)) : null,
      h('dl', { class: 'evidence' },
        c.shop || c.shop_tin ? [h('dt', {}, S.complaint_shop), h('dd', {}, [c.shop, c.shop_tin].filter(Boolean).join(' · '))] : [],
        c.code ? [h('dt', {}, S.complaint_code), h('dd', {}, h('code', {}, c.code))] : [],
        c.verdict ? [h('dt', {}, S.complaint_verdict), h('dd', {}, c.verdict)] : []))));
    if (!complaints.length) list.append(h('li', { class: 'empty' }, S.complaints_empty));
  }

  async function loadRecalls() {
    const page = await api('/api/v1/blocks');
    const rows = (page.blocks || []).slice().sort((a, b) => b.created_at - a.created_at).slice(0, LIST_SHOWN_MAX);
    const list = $('recalls');
    list.replaceChildren(...rows.map((b) => {
      const what = [];
      if (b.gtin) what.push(fill(S.recall_gtin, { gtin: b.gtin }));
      if (b.batch) what.push(fill(S.recall_batch, { batch: b.batch }));
      if (b.codes) what.push(fill(S.recall_codes, { n: num(b.codes) }));
      return h('li', { class: 'recall' + (b.lifted_at ? ' lifted' : ''), 'data-id': b.id },
        h('div', { class: 'alert-head' }, h('strong', {}, b.reason), time(fromUnix(b.created_at))),
        h('p', {}, what.join(' · '), b.lifted_at ? ` · ${fill(S.recall_lifted, { time: new Date(b.lifted_at * 1000).toLocaleString(LANG) })}` : ''));
    }));
    if (!rows.length) list.append(h('li', { class: 'empty' }, S.recalls_empty));
  }

  // ---------------------------------------------------------------------------------
  // The boards
  // ---------------------------------------------------------------------------------

  let me = null;
  const isSeller = () => me && me.roles.some((r) => r === 'producer' || r === 'importer');

  // [every poll, every SLOW_EVERY-th poll]
  const BOARDS = {
    dashboard: [
      [
        () => loadSeries('sales-hour', true),
        () => loadSeries('sales-day', false),
        async () => {
          if (await guarded('alert-feed', loadAlerts)) await guarded('risk', loadRisk);
        },
        () => guarded('complaints', loadComplaints),
      ],
      [loadRegions, loadGroups, () => guarded('risk', loadRisk), () => guarded('recalls', loadRecalls)],
    ],
    cabinet: [
      [() => loadSeries('sales-hour', true), () => loadSeries('sales-day', false)],
      [
        () => loadBars('sales-gtin', '/api/v1/analytics/sales?group_by=gtin', S.col_gtin),
        () => loadBars('stock-gtin', '/api/v1/analytics/stock?group_by=gtin', S.col_gtin),
        () => loadBars('stock-groups', '/api/v1/analytics/stock?group_by=product_group', S.col_group),
        loadFlows,
        async () => {
          if (!isSeller()) return;
          await loadRegions();
          await loadShops();
        },
      ],
    ],
  };

  let polls = 0;
  let delay = POLL_MS;
  let slowDue = true;

  async function refresh() {
    const [every, slow] = BOARDS[PAGE];
    const jobs = slowDue || polls % SLOW_EVERY === 0 ? every.concat(slow) : every;
    polls++;
    const results = await Promise.allSettled(jobs.map((f) => f()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (jobs.length > every.length) slowDue = false;
  }

  async function poll() {
    try {
      await refresh();
      setStatus('live');
      delay = POLL_MS;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        signOut(S.signin_expired);
        return;
      }
      setStatus('offline');
      // Whatever a failed poll skipped is fetched on the next good one.
      slowDue = true;
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
    setTimeout(poll, delay);
  }

  async function start() {
    if (!sessionStorage.getItem(TOKEN_KEY)) {
      showSignIn();
      return;
    }
    try {
      me = await api('/api/v1/auth/me');
    } catch (e) {
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
        signOut(S.signin_expired);
        return;
      }
      setStatus('offline');
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      setTimeout(start, delay);
      return;
    }
    const who = $('who');
    who.textContent = fill(S.signed_in_as, { name: me.name, tin: me.tin });
    who.dataset.tin = me.tin;
    who.hidden = false;
    const out = $('signout');
    out.hidden = false;
    out.addEventListener('click', () => signOut());
    if (PAGE === 'dashboard' && !me.roles.includes('regulator')) {
      $('forbidden').hidden = false;
      setStatus('idle');
      return;
    }
    $('board').hidden = false;
    if (PAGE === 'cabinet' && isSeller()) $('where').hidden = false;
    if ($('regions-table')) wireSorting();
    poll();
  }

  start();
})();
