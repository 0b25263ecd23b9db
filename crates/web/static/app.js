// Tracemark verification page: plain JavaScript, no framework, no build step.
// Its data and every word it says come from the JSON in #page-data (one table of
// strings per language, in the `web` crate); no inline script, so the page's strict
// Content-Security-Policy holds.
//
// Three jobs: (1) check the label's Ed25519 signature on this phone with the registry's
// published keys (WebCrypto), which still works with the network down; (2) scan a code
// with the camera, sending frames to POST /api/v1/verify/image; (3) send a complaint.
'use strict';

(function () {
  // Names every limit the script keeps.
  const FRAME_INTERVAL_MS = 400; // between camera frames sent (one in flight at a time)
  const FRAME_SLOW_MS = 2000; // after a 429 or an error: back off
  const FRAME_SIDE_MAX = 1280; // longest side of a frame sent, pixels
  const FRAME_JPEG_QUALITY = 0.9;
  const PHOTO_SIDE_MAX = 1600; // complaint photo: longest side after downscaling
  const PHOTO_BYTES_MAX = 2 * 1024 * 1024; // the API's limit on the decoded photo
  const PHOTO_QUALITIES = [0.85, 0.7, 0.55, 0.4]; // tried in turn until it fits
  const LOCATION_TIMEOUT_MS = 10000;
  const SIGNATURE_B64_LEN = 88; // standard base64 of a 64-byte Ed25519 signature
  const KEYS_STORE = 'tracemark-keys'; // localStorage: {at, keys}

  const $ = (id) => document.getElementById(id);
  let data = {};
  try {
    data = JSON.parse($('page-data').textContent);
  } catch (e) {
    data = {};
  }
  const S = data.strings || {};
  const fill = (t, args) =>
    String(t || '').replace(/\{(\w+)\}/g, (m, k) => (k in args ? String(args[k]) : m));

  // ---- the service worker (offline shell, cached keys) ----
  if ('serviceWorker' in navigator && data.sw_url) {
    navigator.serviceWorker.register(data.sw_url, { scope: '/' }).catch(() => {});
    // Said on the page once the worker is active (its shell precached): tests and
    // curious readers can wait for it before going offline.
    navigator.serviceWorker.ready.then(() => {
      document.documentElement.dataset.serviceWorker = 'ready';
    });
  }

  // ---- reading the code from the address (the offline shell has no other source) ----
  // A Digital Link keeps `+` as `+` (not a space), so the query is split by hand rather
  // than with URLSearchParams.
  function queryParams(search) {
    const out = {};
    for (const part of search.replace(/^\?/, '').split('&')) {
      if (!part) continue;
      const i = part.indexOf('=');
      const k = i < 0 ? part : part.slice(0, i);
      const v = i < 0 ? '' : part.slice(i + 1);
      try {
        out[decodeURIComponent(k)] = decodeURIComponent(v);
      } catch (e) {
        out[k] = v;
      }
    }
    return out;
  }

  function codeFromLocation() {
    const m = location.pathname.match(/\/01\/(\d{8,14})\/21\/([^/]+)\/?$/);
    if (!m) return null;
    let serial;
    try {
      serial = decodeURIComponent(m[2]);
    } catch (e) {
      return null;
    }
    const q = queryParams(location.search);
    return { gtin: m[1].padStart(14, '0'), serial, kid: q['91'], sig: q['92'], short: q['93'] };
  }

  // The query's parameters but `lang=`.
  function otherParams(u) {
    return u.search.replace(/^\?/, '').split('&').filter((p) => p && !p.startsWith('lang='));
  }

  function withLang(href, lang) {
    const u = new URL(href, location.href);
    return u.pathname + '?' + otherParams(u).concat('lang=' + lang).join('&');
  }

  // This page's Digital Link, absolute, without `lang=` (what a complaint names).
  function pageLink() {
    const u = new URL(location.href);
    const q = otherParams(u);
    return u.origin + u.pathname + (q.length ? '?' + q.join('&') : '');
  }

  // ---- offline signature check ----
  const check = $('offline-check');
  let lastCheck = null; // {state, key, args}

  function b64bytes(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function savedKeys() {
    try {
      const v = JSON.parse(localStorage.getItem(KEYS_STORE) || 'null');
      return v && Array.isArray(v.keys) ? v : null;
    } catch (e) {
      return null;
    }
  }

  // The published keys: from the network (through the service worker, which may answer
  // from its cache and says so), else from localStorage. `fresh` asks the worker to go
  // to the network first.
  async function loadKeys(fresh) {
    try {
      const r = await fetch(data.keys_url || '/.well-known/tracemark-keys', {
        headers: fresh ? { 'X-Tracemark-Fresh': '1' } : {},
        cache: 'no-cache',
      });
      if (!r.ok) throw new Error('keys: HTTP ' + r.status);
      const j = await r.json();
      const cached = r.headers.get('X-Tracemark-Cached') === '1';
      if (!cached) {
        try {
          localStorage.setItem(KEYS_STORE, JSON.stringify({ at: Date.now(), keys: j.keys }));
        } catch (e) {
          // Storage full or refused: the check still runs with the keys in hand.
        }
      }
      return { keys: j.keys || [], network: !cached, failed: false };
    } catch (e) {
      const saved = savedKeys();
      return saved
        ? { keys: saved.keys, at: saved.at, network: false, failed: true }
        : { keys: null, network: false, failed: true };
    }
  }

  async function verifyTail(code) {
    if (!code || (!code.kid && !code.sig && !code.short)) return { state: 'unavailable', key: 'offline_no_tail' };
    if (code.short || !code.kid || !code.sig || code.sig.length !== SIGNATURE_B64_LEN) {
      return { state: 'unavailable', key: 'offline_mac' };
    }
    if (!window.crypto || !crypto.subtle) return { state: 'unavailable', key: 'offline_no_crypto' };
    let got = await loadKeys(false);
    const find = (keys) =>
      (keys || []).find((k) => k.kid === code.kid && k.alg === 'Ed25519' && k.use !== 'log');
    let key = find(got.keys);
    if (!key && !got.network && !got.failed) {
      // Only the worker's cached copy was seen: a key published since is fetched now.
      const again = await loadKeys(true);
      if (again.keys) got = again;
      key = find(got.keys);
    }
    const offline = got.failed;
    if (!got.keys) return { state: 'unavailable', key: 'offline_no_keys', offline };
    if (!key) {
      return got.network
        ? { state: 'invalid', key: 'offline_unknown_key', args: { kid: code.kid }, offline }
        : { state: 'unavailable', key: 'offline_key_not_saved', args: { kid: code.kid }, offline };
    }
    let ok;
    try {
      const pub = await crypto.subtle.importKey('raw', b64bytes(key.public_key), { name: 'Ed25519' }, false, ['verify']);
      let sig;
      try {
        sig = b64bytes(code.sig);
      } catch (e) {
        return { state: 'invalid', key: 'offline_invalid', offline };
      }
      const msg = new TextEncoder().encode('01' + code.gtin + '21' + code.serial);
      ok = await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig, msg);
    } catch (e) {
      return { state: 'unavailable', key: 'offline_no_crypto', offline };
    }
    return ok
      ? { state: 'valid', key: 'offline_valid', args: { kid: code.kid }, offline, at: got.at }
      : { state: 'invalid', key: 'offline_invalid', offline };
  }

  function networkDown() {
    return data.page === 'offline' || navigator.onLine === false || (lastCheck && lastCheck.offline);
  }

  function showCheck() {
    if (!check || !lastCheck) return;
    const r = lastCheck;
    const down = networkDown();
    let text = fill(S[r.key], r.args || {});
    if (down) {
      const lead = { valid: 'net_offline_valid', invalid: 'net_offline_invalid' }[r.state] || 'net_offline_unavailable';
      text = r.state === 'unavailable' ? S[lead] + ' ' + text : S[lead];
    }
    if (r.at) {
      text += ' ' + fill(S.keys_saved, { date: new Date(r.at).toLocaleString(data.lang) });
    }
    check.textContent = text;
    check.dataset.state = r.state;
    check.dataset.network = down ? 'offline' : 'online';
  }

  async function runCheck() {
    if (!check) return;
    check.dataset.state = 'pending';
    check.textContent = S.offline_pending || '';
    const code = data.page === 'offline' ? codeFromLocation() : data.code;
    if (data.page === 'offline' && code) {
      // The shell knows the code only from the address: say which one is checked.
      const line = document.createElement('p');
      line.className = 'code-line num';
      line.id = 'code';
      line.textContent = fill(S.code_line, { gtin: code.gtin, serial: code.serial });
      check.parentNode.appendChild(line);
    }
    try {
      lastCheck = await verifyTail(code);
    } catch (e) {
      lastCheck = { state: 'unavailable', key: 'offline_no_crypto' };
    }
    showCheck();
  }

  if (check) {
    runCheck();
    window.addEventListener('online', showCheck);
    window.addEventListener('offline', showCheck);
  }

  // The offline shell answers at the code's own address: its language switch keeps it.
  const langSwitch = $('lang-switch');
  if (data.page === 'offline' && langSwitch) {
    langSwitch.href = withLang(location.href, langSwitch.getAttribute('hreflang') || 'en');
  }

  // ---- camera scan ----
  const camButton = $('camera-button');
  const video = $('camera-video');
  const camBox = $('camera-box');
  const camStatus = $('camera-status');
  let stream = null;
  let timer = null;
  const canvas = document.createElement('canvas');

  function camSay(text, error) {
    if (!camStatus) return;
    camStatus.textContent = text || '';
    if (error) camStatus.dataset.error = error;
    else delete camStatus.dataset.error;
  }

  function camLabel(text) {
    const l = camButton && camButton.querySelector('.button-label');
    if (l) l.textContent = text;
  }

  function stopCamera(message) {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    if (video) video.srcObject = null;
    if (camBox) camBox.hidden = true;
    camLabel(S.camera_start);
    if (camButton) camButton.setAttribute('aria-pressed', 'false');
    if (message !== undefined) camSay(message);
  }

  function next(ms) {
    if (stream) timer = setTimeout(frame, ms);
  }

  async function frame() {
    timer = null;
    if (!stream) return;
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (video.readyState < 2 || !w || !h) return next(FRAME_INTERVAL_MS);
    const k = Math.min(1, FRAME_SIDE_MAX / Math.max(w, h));
    canvas.width = Math.round(w * k);
    canvas.height = Math.round(h * k);
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((res) => canvas.toBlob(res, 'image/jpeg', FRAME_JPEG_QUALITY));
    if (!stream) return;
    if (!blob) return next(FRAME_INTERVAL_MS);
    let r;
    try {
      r = await fetch('/api/v1/verify/image', {
        method: 'POST',
        headers: { 'Content-Type': 'image/jpeg', Accept: 'application/json' },
        body: blob,
      });
    } catch (e) {
      camSay(S.camera_network, 'network');
      return next(FRAME_SLOW_MS);
    }
    if (!stream) return;
    if (r.status === 200) {
      let link = null;
      try {
        const j = await r.json();
        link = j && j.scanned && j.scanned.link;
      } catch (e) {
        link = null;
      }
      // Only an address on this site: the answer names a relative Digital Link.
      let target = null;
      try {
        const u = link ? new URL(link, location.href) : null;
        if (u && u.origin === location.origin) target = u.pathname + u.search;
      } catch (e) {
        target = null;
      }
      if (target) {
        camSay(S.camera_found);
        stopCamera();
        location.href = target;
        return;
      }
      return next(FRAME_INTERVAL_MS);
    }
    if (r.status === 422) {
      camSay(S.camera_scanning);
      return next(FRAME_INTERVAL_MS);
    }
    if (r.status === 429) {
      camSay(S.camera_slow);
      return next(FRAME_SLOW_MS);
    }
    camSay(fill(S.camera_server, { status: r.status }), String(r.status));
    return next(FRAME_SLOW_MS);
  }

  // A photo chosen from the gallery (or taken by the phone's camera app): the same
  // endpoint as a frame, one try.
  const photoInput = $('photo-input');
  async function scanPhoto() {
    const file = photoInput.files && photoInput.files[0];
    if (!file) return;
    if (stream) stopCamera();
    camSay(S.photo_reading);
    let r;
    // Others behind the same address (a carrier's NAT) share its limits: a 429 is waited out.
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        r = await fetch('/api/v1/verify/image', {
          method: 'POST',
          headers: { 'Content-Type': file.type || 'application/octet-stream', Accept: 'application/json' },
          body: file,
        });
      } catch (e) {
        camSay(S.camera_network, 'network');
        return;
      }
      if (r.status !== 429) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    if (r.status === 200) {
      let target = null;
      try {
        const j = await r.json();
        const u = j && j.scanned && j.scanned.link ? new URL(j.scanned.link, location.href) : null;
        if (u && u.origin === location.origin) target = u.pathname + u.search;
      } catch (e) {
        target = null;
      }
      if (target) {
        camSay(S.camera_found);
        location.href = target;
        return;
      }
    }
    if (r.status === 422) return camSay(S.photo_none, 'none');
    if (r.status === 413 || r.status === 415 || r.status === 400) return camSay(S.photo_bad, String(r.status));
    camSay(fill(S.camera_server, { status: r.status }), String(r.status));
  }
  if (photoInput) {
    photoInput.disabled = false;
    photoInput.addEventListener('change', scanPhoto);
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      camSay(S.camera_unsupported, 'unsupported');
      return;
    }
    camSay(S.camera_starting);
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (e) {
      stream = null;
      const name = (e && e.name) || '';
      if (name === 'NotAllowedError' || name === 'SecurityError') camSay(S.camera_denied, 'denied');
      else if (name === 'NotFoundError' || name === 'OverconstrainedError') camSay(S.camera_none, 'none');
      else camSay(fill(S.camera_failed, { error: (e && e.message) || name }), 'failed');
      return;
    }
    camBox.hidden = false;
    video.srcObject = stream;
    try {
      await video.play();
    } catch (e) {
      // Autoplay of a muted inline video is allowed; a refusal only delays frames.
    }
    camLabel(S.camera_stop);
    camButton.setAttribute('aria-pressed', 'true');
    camSay(S.camera_scanning);
    next(0);
  }

  if (camButton && video) {
    camButton.disabled = false;
    camButton.addEventListener('click', () => (stream ? stopCamera(S.camera_stopped) : startCamera()));
    // Never leave the camera on behind the shopper's back.
    window.addEventListener('pagehide', () => stopCamera());
    document.addEventListener('visibilitychange', () => {
      if (document.hidden && stream) stopCamera(S.camera_stopped);
    });
  }

  // ---- complaint ----
  const form = $('complaint-form');
  const submit = $('complaint-submit');
  const result = $('complaint-result');

  function say(text, id, error) {
    result.textContent = text;
    if (id) result.dataset.id = id;
    else delete result.dataset.id;
    if (error) result.dataset.error = error;
    else delete result.dataset.error;
  }

  function toBlob(c, q) {
    return new Promise((res) => c.toBlob(res, 'image/jpeg', q));
  }

  function blobBase64(blob) {
    return new Promise((res, rej) => {
      const fr = new FileReader();
      fr.onload = () => res(String(fr.result).split(',')[1] || '');
      fr.onerror = () => rej(fr.error);
      fr.readAsDataURL(blob);
    });
  }

  // The photo made at most PHOTO_SIDE_MAX on its longest side and re-encoded as JPEG
  // (which also drops its metadata: no GPS from the camera's EXIF unless asked).
  async function photoJpeg(file) {
    const bmp = await createImageBitmap(file, { imageOrientation: 'from-image' });
    const k = Math.min(1, PHOTO_SIDE_MAX / Math.max(bmp.width, bmp.height));
    const c = document.createElement('canvas');
    c.width = Math.max(1, Math.round(bmp.width * k));
    c.height = Math.max(1, Math.round(bmp.height * k));
    c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
    if (bmp.close) bmp.close();
    for (const q of PHOTO_QUALITIES) {
      const b = await toBlob(c, q);
      if (b && b.size <= PHOTO_BYTES_MAX) return { type: 'image/jpeg', data: await blobBase64(b) };
    }
    throw new Error('photo too large');
  }

  function position() {
    return new Promise((res) => {
      if (!navigator.geolocation) return res(null);
      navigator.geolocation.getCurrentPosition(
        (p) => res({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy }),
        () => res(null),
        { enableHighAccuracy: true, timeout: LOCATION_TIMEOUT_MS, maximumAge: 60000 }
      );
    });
  }

  async function sendComplaint(ev) {
    ev.preventDefault();
    const el = form.elements;
    const text = el.text.value.trim();
    if (!text) {
      say(S.complaint_text_empty, null, 'text');
      el.text.focus();
      return;
    }
    const body = { kind: el.kind.value, text };
    if (data.complaint_with_code) {
      body.code = pageLink();
    }
    const shop = el.shop.value.trim();
    if (shop) body.shop = shop;
    submit.disabled = true;
    let note = '';
    try {
      const file = el.photo.files && el.photo.files[0];
      if (file) {
        say(S.complaint_sending);
        try {
          body.photo = await photoJpeg(file);
        } catch (e) {
          say(S.complaint_photo_bad, null, 'photo');
          return;
        }
      }
      if (el.share_location.checked) {
        say(S.complaint_locating);
        const loc = await position();
        if (loc) body.location = loc;
        else note = ' ' + S.complaint_no_location;
      }
      say(S.complaint_sending);
      let r;
      try {
        r = await fetch('/api/v1/complaints', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify(body),
        });
      } catch (e) {
        say(S.complaint_network, null, 'network');
        return;
      }
      let j = {};
      try {
        j = await r.json();
      } catch (e) {
        j = {};
      }
      if (r.status === 201 && j.id) {
        say(fill(S.complaint_sent, { id: j.id }) + (body.location ? '' : note), j.id);
        el.text.value = '';
        el.photo.value = '';
      } else if (r.status === 429) {
        say(S.complaint_too_many, null, '429');
      } else {
        say(fill(S.complaint_error, { detail: j.detail || j.title || 'HTTP ' + r.status }), null, String(r.status));
      }
    } finally {
      submit.disabled = false;
    }
  }

  if (form && submit && result) {
    submit.disabled = false;
    form.addEventListener('submit', sendComplaint);
  }
})();
