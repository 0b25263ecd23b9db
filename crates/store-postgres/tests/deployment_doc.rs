//! docs/deployment.md quotes the Citus layout: every statement of every `*_citus.sql`
//! migration, as the store runs it (so the page cannot drift from the files).

use store_postgres::migrations::{statements, MIGRATIONS};

#[test]
fn the_deployment_page_quotes_every_citus_statement() {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/deployment.md"),
    )
    .expect("docs/deployment.md");
    for m in MIGRATIONS {
        for s in statements(m.citus) {
            let code: Vec<&str> = s
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("--"))
                .collect();
            let code = code.join("\n");
            assert!(
                page.contains(&code),
                "docs/deployment.md does not quote migration {}'s {code}",
                m.version
            );
        }
    }
}
