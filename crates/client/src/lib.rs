//! A small blocking client of the HTTP API: how an ERP or a till talks to the registry.
//! Used by the demo, the benchmark and the end-to-end tests.

use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::blocking::Client as Http;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The RFC 9421 headers signing a request to `path_and_query` with `body`:
/// `(Content-Digest, Signature-Input, Signature)`, with the clock's `created` and a random
/// nonce, covering the four required components.
pub fn sign_request(
    actor: &Actor,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> (String, String, String) {
    sign_request_for(actor, method, None, path_and_query, body)
}

/// As [`sign_request`], also covering `"@authority"` when `authority` is given (the host
/// and port the request goes to, as its `Host` header carries them): a registry started
/// with `--public-url` requires it, and every registry accepts it.
pub fn sign_request_for(
    actor: &Actor,
    method: &str,
    authority: Option<&str>,
    path_and_query: &str,
    body: &[u8],
) -> (String, String, String) {
    use rand::RngCore;
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut n = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut n);
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n);
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let target = server::httpsig::Target {
        method,
        path,
        query,
    };
    match authority {
        Some(a) => {
            server::httpsig::sign_for(&actor.key, &actor.tin, target, a, body, created, &nonce)
        }
        None => server::httpsig::sign(&actor.key, &actor.tin, target, body, created, &nonce),
    }
}

/// A participant the client acts for: its key and bearer token.
pub struct Actor {
    /// TIN.
    pub tin: String,
    /// Signing key.
    pub key: SigningKey,
    /// Bearer token.
    pub token: String,
}

/// The client.
#[derive(Clone)]
pub struct Client {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    http: Http,
}

/// An answer: status and JSON body.
pub type Answer = (u16, Value);

impl Client {
    /// A client of the registry at `base`.
    pub fn new(base: &str) -> Result<Client> {
        Self::build(base, None)
    }

    /// A client whose connections leave from `local` (the demo's shoppers use addresses
    /// of the loopback network, 127.0.0.0/8, so the registry tells them apart as it tells
    /// phones apart).
    pub fn from_address(base: &str, local: std::net::IpAddr) -> Result<Client> {
        Self::build(base, Some(local))
    }

    fn build(base: &str, local: Option<std::net::IpAddr>) -> Result<Client> {
        let http = Http::builder()
            .local_address(local)
            .timeout(Duration::from_secs(120))
            // Below the server's 10 s idle timeout: a pooled connection is never reused
            // just as the server closes it.
            .pool_idle_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The host and port requests go to (`Host`, without the scheme's default port), from
    /// the base URL.
    fn authority(&self) -> Option<String> {
        let (scheme, rest) = self.base.split_once("://")?;
        let a = rest.split('/').next().filter(|a| !a.is_empty())?;
        Some(server::httpsig::normalize_authority(
            &scheme.to_ascii_lowercase(),
            a,
        ))
    }

    fn answer(r: reqwest::blocking::Response) -> Result<Answer> {
        let status = r.status().as_u16();
        let text = r.text()?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, v))
    }

    /// GET with an optional bearer token.
    pub fn get(&self, actor: Option<&Actor>, path: &str) -> Result<Answer> {
        let mut rq = self.http.get(format!("{}{path}", self.base));
        if let Some(a) = actor {
            rq = rq.bearer_auth(&a.token);
        }
        Self::answer(rq.send()?)
    }

    /// GET signed by the actor (RFC 9421, the empty body's digest): the reads that return
    /// crypto tails (an order's codes and labels, a document's body) need it, as a bearer
    /// token alone never reveals a tail.
    pub fn get_signed(&self, actor: &Actor, path: &str) -> Result<Answer> {
        self.send_signed(actor, reqwest::Method::GET, path, Vec::new())
    }

    /// A request signed by the actor (RFC 9421, fresh `created` and nonce) with its body.
    fn send_signed(
        &self,
        actor: &Actor,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Answer> {
        // Covering the authority too: the request then holds on a registry that knows its
        // public address (`--public-url`) and cannot be replayed on another.
        let (digest, input, sig) = sign_request_for(
            actor,
            method.as_str(),
            self.authority().as_deref(),
            path,
            &body,
        );
        let mut rq = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&actor.token)
            .header("content-digest", digest)
            .header("signature-input", input)
            .header("signature", sig);
        if !body.is_empty() {
            rq = rq.header("content-type", "application/json").body(body);
        }
        Self::answer(rq.send()?)
    }

    /// POST of exact bytes, signed by the actor.
    pub fn post_signed_bytes(&self, actor: &Actor, path: &str, body: Vec<u8>) -> Result<Answer> {
        self.send_signed(actor, reqwest::Method::POST, path, body)
    }

    /// POST of a JSON value, signed.
    pub fn post_signed(&self, actor: &Actor, path: &str, body: &Value) -> Result<Answer> {
        self.post_signed_bytes(actor, path, serde_json::to_vec(body)?)
    }

    /// POST of a JSON value with the bearer token only (queries, till checks).
    pub fn post(&self, actor: &Actor, path: &str, body: &Value) -> Result<Answer> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&actor.token)
            .json(body)
            .send()?;
        Self::answer(r)
    }

    /// POST of a JSON value without credentials (the public endpoints: complaints).
    pub fn post_public(&self, path: &str, body: &Value) -> Result<Answer> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()?;
        Self::answer(r)
    }

    /// DELETE, signed (RFC 9421, the empty body's digest).
    pub fn delete_signed(&self, actor: &Actor, path: &str) -> Result<Answer> {
        self.send_signed(actor, reqwest::Method::DELETE, path, Vec::new())
    }

    /// Registers a participant with the admin token and signs it in.
    pub fn register(
        &self,
        admin_token: &str,
        tin: &str,
        name: &str,
        roles: &[&str],
        region: &str,
    ) -> Result<Actor> {
        self.register_with_prefixes(admin_token, tin, name, roles, region, &[])
    }

    /// Registers a participant holding GS1 company prefixes and signs it in.
    pub fn register_with_prefixes(
        &self,
        admin_token: &str,
        tin: &str,
        name: &str,
        roles: &[&str],
        region: &str,
        prefixes: &[&str],
    ) -> Result<Actor> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let body = json!({
            "tin": tin, "name": name, "roles": roles, "region": region,
            "public_key": STANDARD.encode(key.verifying_key().as_bytes()),
            "gs1_prefixes": prefixes,
        });
        let r = self
            .http
            .post(format!("{}/api/v1/participants", self.base))
            .bearer_auth(admin_token)
            .json(&body)
            .send()?;
        let (status, v) = Self::answer(r)?;
        if status != 201 && status != 409 {
            bail!("registering {tin}: {status} {v}");
        }
        self.sign_in(tin, key)
    }

    /// Signs in with a challenge.
    pub fn sign_in(&self, tin: &str, key: SigningKey) -> Result<Actor> {
        let (status, ch) = self.get(None, &format!("/api/v1/auth/challenge?tin={tin}"))?;
        if status != 200 {
            bail!("challenge for {tin}: {status} {ch}");
        }
        let data = ch["data"]
            .as_str()
            .ok_or_else(|| anyhow!("no challenge data"))?;
        let sig = STANDARD.encode(key.sign(data.as_bytes()).to_bytes());
        let r = self
            .http
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&json!({"challenge_id": ch["challenge_id"], "signature": sig}))
            .send()?;
        let (status, tok) = Self::answer(r)?;
        if status != 200 {
            bail!("token for {tin}: {status} {tok}");
        }
        let token = tok["token"]
            .as_str()
            .ok_or_else(|| anyhow!("no token"))?
            .to_string();
        Ok(Actor {
            tin: tin.to_string(),
            key,
            token,
        })
    }

    /// Submits a document (a fresh id is added when `body` has none); `Ok` on 201.
    pub fn document(
        &self,
        actor: &Actor,
        mut body: Value,
    ) -> Result<std::result::Result<Value, Answer>> {
        if body.get("id").is_none() {
            body["id"] = json!(uuid::Uuid::new_v4());
        }
        let (status, v) = self.post_signed(actor, "/api/v1/documents", &body)?;
        Ok(if status == 201 {
            Ok(v)
        } else {
            Err((status, v))
        })
    }

    /// Orders `n` codes and waits until they are ready; returns the full codes.
    pub fn order_codes(
        &self,
        actor: &Actor,
        gtin: &str,
        n: u32,
        tail: &str,
    ) -> Result<Vec<String>> {
        let id = self.order(actor, gtin, n, tail)?;
        self.wait_order(
            actor,
            &id,
            Duration::from_millis(20),
            Duration::from_secs(600),
        )?;
        let mut codes = Vec::with_capacity(n as usize);
        let mut offset = Some(0);
        while let Some(o) = offset {
            let (page, next) = self.order_page(actor, &id, o)?;
            codes.extend(page);
            offset = next;
        }
        let _ = self.close_order(actor, &id);
        Ok(codes)
    }

    /// Orders `n` codes of `gtin` with operator serials and `tail` (`mac`, `signature`,
    /// `short`); returns the order's id once the registry accepted it (202). Emission runs
    /// behind it: see [`Client::wait_order`].
    pub fn order(&self, actor: &Actor, gtin: &str, n: u32, tail: &str) -> Result<String> {
        let (status, o) = self.post_signed(
            actor,
            "/api/v1/orders",
            &json!({"gtin": gtin, "quantity": n, "serial_type": "operator", "tail": tail}),
        )?;
        if status != 202 {
            bail!("order: {status} {o}");
        }
        Ok(o["order_id"]
            .as_str()
            .ok_or_else(|| anyhow!("no order id"))?
            .to_string())
    }

    /// Waits until the order `id` is `ready` (every code stored), asking every `poll`;
    /// an error when it ends otherwise or is still pending after `timeout`.
    pub fn wait_order(
        &self,
        actor: &Actor,
        id: &str,
        poll: Duration,
        timeout: Duration,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let (_, o) = self.get(Some(actor), &format!("/api/v1/orders/{id}"))?;
            match o["status"].as_str() {
                Some("ready") => return Ok(()),
                Some("pending") if start.elapsed() < timeout => std::thread::sleep(poll),
                _ => bail!("order {id}: {o}"),
            }
        }
    }

    /// One page (up to 10,000) of a ready order's full codes from `offset` (a signed read:
    /// it reveals the tails), and the next page's offset (`None` after the last).
    pub fn order_page(
        &self,
        actor: &Actor,
        id: &str,
        offset: u64,
    ) -> Result<(Vec<String>, Option<u64>)> {
        let (status, page) = self.get_signed(
            actor,
            &format!("/api/v1/orders/{id}/codes?offset={offset}&limit=10000"),
        )?;
        if status != 200 {
            bail!("order codes: {status} {page}");
        }
        let codes = page["codes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap_or_default().to_string())
            .collect();
        Ok((codes, page["next_offset"].as_u64()))
    }

    /// Closes the order `id` (a producer may hold a bounded number of active orders).
    pub fn close_order(&self, actor: &Actor, id: &str) -> Result<()> {
        let (status, v) =
            self.post_signed(actor, &format!("/api/v1/orders/{id}/close"), &json!({}))?;
        if !(200..300).contains(&status) {
            bail!("closing order {id}: {status} {v}");
        }
        Ok(())
    }
}

/// The identification code of a full code (everything before the first GS).
pub fn id_code(full: &str) -> &str {
    full.split('\u{1d}').next().unwrap_or(full)
}

/// An SSCC (`00` + 18 digits with its check digit) from an extension digit and a serial.
pub fn sscc(extension: u8, serial: u64) -> String {
    let body = format!("{}{:016}", extension % 10, serial % 10_000_000_000_000_000);
    format!("00{body}{}", gs1::check_digit(body.as_bytes()))
}

/// A GTIN-13 padded to 14 digits with its check digit, from a 12-digit number.
pub fn gtin(n: u64) -> String {
    let body = format!("0{:012}", n % 1_000_000_000_000);
    format!("{body}{}", gs1::check_digit(body.as_bytes()))
}
