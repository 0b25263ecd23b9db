//! Signatures' nonces on a shared database: a signed request replayed to another process
//! serving the same database (a reader, or the reader that took over) is refused, as the
//! same process refuses it — the nonces live in the database, not in one process's memory.

#[path = "support/process.rs"]
mod process;

use process::Serve;

const ADMIN: &str = "nonces-postgres-admin-token";

/// A read that checks a signature when one is sent (and is answered by readers too).
const PATH: &str = "/api/v1/codes/query";
const BODY: &[u8] = br#"{"codes":["0104600000000017215AAAAAAAAAAAAA"]}"#;

/// Sends the query with the given signature headers and the actor's token.
fn signed_query(base: &str, token: &str, h: &(String, String, String)) -> u16 {
    reqwest::blocking::Client::new()
        .post(format!("{base}{PATH}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(BODY)
        .header("content-digest", &h.0)
        .header("signature-input", &h.1)
        .header("signature", &h.2)
        .send()
        .expect("signed GET")
        .status()
        .as_u16()
}

#[test]
fn a_nonce_used_on_one_process_is_refused_on_another() {
    let url = store_postgres::testing::fresh_schema(store_postgres::testing::server());
    let args = ["--postgres", url.as_str()];
    let mut writer = Serve::start(&args, ADMIN);
    writer.wait_role("writer");
    let reader = Serve::start(&args, ADMIN);
    reader.wait_role("reader");
    let c = client::Client::new(&writer.base).expect("client");
    let shop = c
        .register(ADMIN, "7705000001", "Nonce Shop", &["retailer"], "RU-MOW")
        .expect("register");
    // Fresh signatures work on both.
    for base in [&writer.base, &reader.base] {
        let h = client::sign_request(&shop, "POST", PATH, BODY);
        assert_eq!(signed_query(base, &shop.token, &h), 200, "{base}");
    }
    // One signature, used on the writer, replayed: to the writer and to the reader.
    let h = client::sign_request(&shop, "POST", PATH, BODY);
    assert_eq!(signed_query(&writer.base, &shop.token, &h), 200);
    assert_eq!(signed_query(&writer.base, &shop.token, &h), 401);
    assert_eq!(signed_query(&reader.base, &shop.token, &h), 401);
    // Used on the reader first, replayed to the writer.
    let h = client::sign_request(&shop, "POST", PATH, BODY);
    assert_eq!(signed_query(&reader.base, &shop.token, &h), 200);
    assert_eq!(signed_query(&writer.base, &shop.token, &h), 401);
    // The writer dies; the reader takes over and still knows the nonce.
    writer.kill();
    reader.wait_role("writer");
    assert_eq!(signed_query(&reader.base, &shop.token, &h), 401);
}
