//! The page's static files, embedded in the binary (no CDN, no files beside it), each
//! with a content hash: the page links `/static/{name}?v={hash}`, which is cached for a
//! year (a new build links a new hash); without the matching `v` the file must be
//! revalidated (its ETag is the hash, so that costs a 304).

use std::sync::OnceLock;

/// Length of the content hash in URLs and ETags: 16 hex digits (64 bits) of BLAKE3,
/// plenty to tell builds apart.
pub const HASH_HEX_LEN: usize = 16;

/// How long a versioned asset (`?v=` its hash) is cached: a year, the longest
/// `max-age` caches honour (RFC 9111 leaves it open; a year is the common ceiling).
pub const IMMUTABLE_MAX_AGE_SECS: u32 = 31_536_000;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The name under `/static/`.
    pub name: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The bytes.
    pub body: Vec<u8>,
    /// The content hash ([`HASH_HEX_LEN`] hex digits).
    pub hash: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: Vec<u8>) -> Asset {
        let hash = blake3::hash(&body).to_hex()[..HASH_HEX_LEN].to_string();
        Asset {
            name,
            content_type,
            body,
            hash,
        }
    }

    /// The URL the pages link: `/static/{name}?v={hash}`.
    pub fn url(&self) -> String {
        format!("/static/{}?v={}", self.name, self.hash)
    }

    /// The strong ETag: the quoted hash.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.hash)
    }
}

/// What the server sends for a static file: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    /// 200 or 304.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for a 304).
    pub body: &'static [u8],
}

fn table() -> &'static [Asset] {
    static TABLE: OnceLock<Vec<Asset>> = OnceLock::new();
    TABLE.get_or_init(|| {
        vec![
            Asset::new(
                "app.css",
                "text/css; charset=utf-8",
                include_bytes!("../static/app.css").to_vec(),
            ),
            Asset::new(
                "app.js",
                "text/javascript; charset=utf-8",
                include_bytes!("../static/app.js").to_vec(),
            ),
            Asset::new(
                "dashboard.css",
                "text/css; charset=utf-8",
                include_bytes!("../static/dashboard.css").to_vec(),
            ),
            Asset::new(
                "dashboard.js",
                "text/javascript; charset=utf-8",
                include_bytes!("../static/dashboard.js").to_vec(),
            ),
            Asset::new(
                "icon.svg",
                "image/svg+xml",
                include_bytes!("../static/icon.svg").to_vec(),
            ),
        ]
    })
}

/// The files the consumer page's service worker precaches and versions: the boards'
/// files are not the shopper's business (and a new dashboard must not empty every
/// phone's offline cache).
const CONSUMER: [&str; 3] = ["app.css", "app.js", "icon.svg"];

fn consumer() -> impl Iterator<Item = &'static Asset> {
    table().iter().filter(|a| CONSUMER.contains(&a.name))
}

/// The embedded file called `name`, if any.
pub fn get(name: &str) -> Option<&'static Asset> {
    table().iter().find(|a| a.name == name)
}

/// The URL of an embedded file (the file exists: a test checks every name used).
pub(crate) fn url(name: &str) -> String {
    get(name).map_or_else(|| format!("/static/{name}"), Asset::url)
}

/// The version of the page's files together: the service worker's cache is named by
/// it, so a new build replaces the cached shell.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = blake3::Hasher::new();
        for a in consumer() {
            h.update(a.hash.as_bytes());
        }
        // The service worker's own code and the offline shells it precaches are part of
        // the version: a change of either replaces the cache.
        h.update(include_bytes!("../static/sw.js"));
        for lang in [crate::Lang::Ru, crate::Lang::En] {
            h.update(crate::render_offline(lang).unwrap_or_default().as_bytes());
        }
        h.finalize().to_hex()[..HASH_HEX_LEN].to_string()
    })
}

/// The service worker (`/sw.js`): its source with the version and the list of files
/// to precache filled in. Served from the root so that its scope is `/`.
pub fn service_worker() -> &'static Asset {
    static SW: OnceLock<Asset> = OnceLock::new();
    SW.get_or_init(|| {
        let mut precache: Vec<String> = consumer().map(Asset::url).collect();
        precache.push("/offline?lang=ru".into());
        precache.push("/offline?lang=en".into());
        let list = serde_json::to_string(&precache).unwrap_or_else(|_| "[]".into());
        let src = include_str!("../static/sw.js")
            .replace("\"__VERSION__\"", &format!("\"{}\"", version()))
            .replace("[/*__PRECACHE__*/]", &list);
        Asset::new("sw.js", "text/javascript; charset=utf-8", src.into_bytes())
    })
}

fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|v| {
        v.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    })
}

fn reply(a: &'static Asset, cache_control: String, if_none_match: Option<&str>) -> Reply {
    let etag = a.etag();
    let fresh = etag_matches(if_none_match, &etag);
    let mut headers = vec![
        ("etag", etag),
        ("cache-control", cache_control),
        ("x-content-type-options", "nosniff".to_string()),
    ];
    if !fresh {
        headers.push(("content-type", a.content_type.to_string()));
    }
    Reply {
        status: if fresh { 304 } else { 200 },
        headers,
        body: if fresh { &[] } else { &a.body },
    }
}

/// The reply for `GET /static/{name}?{query}`: `None` when there is no such file.
/// Cached for a year when `query` holds `v=` the file's hash, else revalidated each time.
pub fn static_reply(name: &str, query: Option<&str>, if_none_match: Option<&str>) -> Option<Reply> {
    let a = get(name)?;
    let versioned = query.is_some_and(|q| {
        q.split('&')
            .any(|p| p.strip_prefix("v=") == Some(a.hash.as_str()))
    });
    let cc = if versioned {
        format!("public, max-age={IMMUTABLE_MAX_AGE_SECS}, immutable")
    } else {
        "public, no-cache".to_string()
    };
    Some(reply(a, cc, if_none_match))
}

/// The reply for `GET /sw.js`: always revalidated (browsers check the worker for
/// updates; a stale worker would keep an old shell).
pub fn service_worker_reply(if_none_match: Option<&str>) -> Reply {
    let mut r = reply(service_worker(), "no-cache".into(), if_none_match);
    // Its scope is the root it is served from; said outright for clarity.
    r.headers.push(("service-worker-allowed", "/".into()));
    r
}
