//! The regulator's dashboard (`/dashboard`) and the business cabinet (`/cabinet`): one
//! template, two shapes. The page is a shell: the script (`dashboard.js`) signs in (a
//! token from the URL fragment, or the participant's Ed25519 key through WebCrypto) and
//! fills every section from the API, polling. Nothing the registry knows is rendered
//! here, so the shell is the same for everyone and caches like a file; what the API
//! scopes to the caller is all the page ever shows.
//!
//! DOM ids the browser tests rely on: `#live-status` (`data-state` `connecting`, `live`,
//! `offline`), `#signin-form`, `#signin-tin`, `#signin-key`, `#signin-file`,
//! `#signin-submit`, `#signin-error`, `#who`, `#signout`, `#board`, `#forbidden`,
//! `#sales-hour`, `#sales-day`, `#region-map`, `#regions-table`, `#groups`, `#alert-feed`,
//! `#risk`, `#complaints`, `#recalls`; in the cabinet `#sales-gtin`, `#stock-gtin`,
//! `#stock-groups`, `#flows`, `#where`, `#shops`.

use crate::strings::{fill, BoardStrings, Strings};
use crate::{assets, script_json, switch_href, Error, Lang};
use askama::Template;
use serde::Serialize;

/// Which board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// The regulator's dashboard: the whole country, alerts, risk.
    Dashboard,
    /// A business's own goods, sales and shipments.
    Cabinet,
}

impl Board {
    /// The page's word (`dashboard`, `cabinet`), as the script reads it.
    pub fn name(self) -> &'static str {
        match self {
            Board::Dashboard => "dashboard",
            Board::Cabinet => "cabinet",
        }
    }
}

/// A region as the map draws it: the server passes the registry's table in, so this
/// crate stays free of the registry.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RegionPoint {
    /// ISO 3166-2 code (`RU-MOW`): the analytics' keys.
    pub code: &'static str,
    /// Name.
    pub name: &'static str,
    /// Latitude of the centre, degrees north.
    pub lat: f64,
    /// Longitude of the centre, degrees east.
    pub lon: f64,
}

/// The data the script reads from `#page-data`.
#[derive(Serialize)]
struct BoardData<'a> {
    lang: &'static str,
    page: &'static str,
    strings: &'static BoardStrings,
    regions: &'a [RegionPoint],
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    lang: &'static str,
    s: &'static Strings,
    b: &'static BoardStrings,
    page: &'static str,
    dashboard: bool,
    title: &'static str,
    other_lang: &'static str,
    other_name: &'static str,
    switch_href: String,
    css: String,
    js: String,
    icon: String,
    data: String,
    sort_region: String,
    sort_sales: String,
    sort_stock: String,
}

/// The page of `board` in `lang`, with the map's `regions`. `path_and_query` is the
/// request's own (for the language switch).
pub fn render_board(
    board: Board,
    lang: Lang,
    path_and_query: &str,
    regions: &[RegionPoint],
) -> Result<String, Error> {
    let s = lang.strings();
    let b = s.board;
    let page = BoardPage {
        lang: lang.code(),
        s,
        b,
        page: board.name(),
        dashboard: board == Board::Dashboard,
        title: match board {
            Board::Dashboard => b.dashboard_title,
            Board::Cabinet => b.cabinet_title,
        },
        other_lang: lang.other().code(),
        other_name: lang.other().strings().name,
        switch_href: switch_href(path_and_query, lang.other()),
        css: assets::url("dashboard.css"),
        js: assets::url("dashboard.js"),
        icon: assets::url("icon.svg"),
        sort_region: fill(b.sort_by, &[("col", b.col_region)]),
        sort_sales: fill(b.sort_by, &[("col", b.col_sales)]),
        sort_stock: fill(b.sort_by, &[("col", b.col_stock)]),
        data: script_json(&BoardData {
            lang: lang.code(),
            page: board.name(),
            strings: b,
            regions,
        }),
    };
    Ok(page.render()?)
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
