//! Every rule of the risk engine: one test that triggers it, and clean traffic that keeps
//! every rule silent. A real registry on the real embedded store; the engine applies the
//! committed feed exactly as its follower does.

use conformance::{ids, tampered, World};
use registry::project::Projection;
use registry::tailguard::Checker;
use registry::PosItem;
use risk::{AlertFilter, Kind, Risk, Subject};
use serde_json::json;
use std::sync::Arc;
use types::feed::Place;

fn world() -> (World, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_fjall::FjallStore::open(dir.path()).expect("store");
    (World::open(Arc::new(store)), dir)
}

/// The engine after every fact committed so far (facts from reads join the writer's next
/// commit: an empty job through the writer flushes them).
fn risk(w: &World) -> Risk {
    w.reg
        .writer_check(std::time::Duration::from_secs(5))
        .expect("writer");
    let mut r = Risk::new();
    for e in w.reg.feed(0, 1_000_000).expect("feed") {
        r.apply(&e, &w.reg).expect("the registry answers");
    }
    r
}

fn all(r: &Risk) -> Vec<risk::Alert> {
    r.alerts(&AlertFilter {
        limit: 1_000,
        ..Default::default()
    })
    .into_iter()
    .cloned()
    .collect()
}

fn of_kind(r: &Risk, k: Kind) -> Vec<risk::Alert> {
    all(r).into_iter().filter(|a| a.kind == k).collect()
}

fn kinds(r: &Risk) -> Vec<Kind> {
    let mut k: Vec<Kind> = all(r).iter().map(|a| a.kind).collect();
    k.sort();
    k.dedup();
    k
}

/// A till check's request id for codes, by a participant.
fn check(w: &World, who: &types::model::Participant, codes: &[String]) -> String {
    let items = codes
        .iter()
        .map(|c| PosItem::Code(c.clone()))
        .collect::<Vec<_>>();
    w.reg.pos_check(who, &items).expect("check").0.to_string()
}

fn checked_sale(w: &World, who: &types::model::Participant, codes: &[String]) -> uuid::Uuid {
    let id = check(w, who, codes);
    let mut body = w.sell_body(codes);
    body["check_ids"] = json!([id]);
    w.doc(who, body).expect("sale").id
}

const MOSCOW: (f64, f64) = (55.75, 37.62);
const VLADIVOSTOK: (f64, f64) = (43.12, 131.89);

fn scan(w: &World, code: &str, (lat, lon): (f64, f64), client: u64) -> &'static str {
    w.reg
        .verify_at(code, Checker::Public(client), Place::from_degrees(lat, lon))
        .expect("verify")
        .verdict
}

/// A scan from anonymous client `client` on network `net` (a keyed hash of its /24).
fn scan_from(w: &World, code: &str, (lat, lon): (f64, f64), client: u64, net: u64) -> &'static str {
    w.reg
        .verify_from(
            code,
            Checker::Public(client),
            Place::from_degrees(lat, lon),
            Some(net),
        )
        .expect("verify")
        .verdict
}

#[test]
fn clean_traffic_raises_nothing() {
    let (w, _d) = world();
    let c = w.introduced(6);
    let b = w.sscc();
    w.aggregate(&w.producer, &b, &c[0..4]);
    let ship = w.ship(&w.producer, &w.wholesaler, std::slice::from_ref(&b));
    w.accept(&w.wholesaler, ship, &[]);
    w.transfer(&w.wholesaler, &w.retailer, std::slice::from_ref(&b));
    w.ok(&w.retailer, json!({"type": "disaggregate", "parents": [b]}));
    checked_sale(&w, &w.retailer, &c[0..2]);
    // A shopper scans what they bought, twice, at home; a return and a resale.
    assert_eq!(scan(&w, &c[0], MOSCOW, 1), "sold");
    assert_eq!(scan(&w, &c[0], (55.70, 37.50), 1), "sold");
    w.ok(
        &w.retailer,
        json!({"type": "return", "codes": ids(&c[0..1]), "reason": "retail"}),
    );
    checked_sale(&w, &w.retailer, &c[0..1]);
    // One complaint about a shop is no cluster; a refused clumsy document is no offence.
    w.reg
        .complain(
            types::complaints::NewComplaint {
                code: Some(c[1].clone()),
                kind: "price".into(),
                text: "too dear".into(),
                shop: None,
                location: None,
                photo: None,
            },
            "t".into(),
            Checker::Public(3),
        )
        .expect("complaint");
    let r = w.doc(&w.retailer, json!({"type": "sell", "codes": ids(&c[2..3]), "receipt": {"fiscal_drive": "1", "number": 1, "at": "yesterday", "store": "s"}}));
    assert!(r.is_err());
    let r = risk(&w);
    assert!(all(&r).is_empty(), "clean traffic raised {:#?}", all(&r));
}

#[test]
fn repeat_sale_names_the_second_shop_once_per_incident() {
    let (w, _d) = world();
    let a = w.at_retailer(2);
    let first = checked_sale(&w, &w.retailer, &a);
    let body = w.sell_body(&a[0..1]);
    for _ in 0..3 {
        // Retried: one incident.
        assert!(w.doc(&w.retailer2, body.clone()).is_err());
    }
    let r = risk(&w);
    let rs = of_kind(&r, Kind::RepeatSale);
    assert_eq!(rs.len(), 1, "{rs:#?}");
    let al = &rs[0];
    assert_eq!(al.subject, Subject::Participant(w.retailer2.id));
    assert_eq!(
        al.codes,
        [registry::code_key(&a[0]).expect("key").to_string()]
    );
    assert!(
        al.documents.contains(&first.to_string()),
        "the first sale is evidence"
    );
    assert_eq!(al.count, 3);
    assert_eq!(al.details["first_sellers"], json!([w.retailer.tin]));
    assert_eq!(al.severity, risk::Severity::High);
    // A cloned label is the repeat sale's signal alone, not a volume one.
    assert_eq!(kinds(&r), [Kind::RepeatSale]);
}

#[test]
fn grey_sale_and_sales_beyond_receipts() {
    let (w, _d) = world();
    let a = w.at_retailer(3);
    // The second shop received one unit honestly, and tries to sell two it never got.
    let mine = w.introduced(1);
    w.transfer(&w.producer, &w.retailer2, &mine);
    checked_sale(&w, &w.retailer2, &mine);
    assert!(w.sell(&w.retailer2, &a[0..2]).is_err());
    let r = risk(&w);
    let g = of_kind(&r, Kind::GreySale);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].subject, Subject::Participant(w.retailer2.id));
    assert_eq!(g[0].count, 2);
    assert_eq!(g[0].details["owners"], json!([w.retailer.tin]));
    let x = of_kind(&r, Kind::SalesExceedReceipts);
    assert_eq!(x.len(), 1);
    let gtin = &w.gtin;
    assert_eq!(
        x[0].details["gtins"][gtin],
        json!({"received": 1, "sold_or_attempted": 3})
    );
    assert_eq!(kinds(&r), [Kind::GreySale, Kind::SalesExceedReceipts]);
}

#[test]
fn not_introduced_sale_of_emitted_and_unknown_codes() {
    let (w, _d) = world();
    let emitted = w.order(&w.producer, &w.gtin, 1, "mac");
    let ghost = format!("01{}21GHOSTSERIAL", w.gtin);
    assert!(w.sell(&w.retailer, &[emitted[0].clone(), ghost]).is_err());
    let r = risk(&w);
    let n = of_kind(&r, Kind::NotIntroducedSale);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].count, 2);
    assert_eq!(n[0].details["statuses"], json!(["EMITTED", "UNKNOWN"]));
    assert_eq!(kinds(&r), [Kind::NotIntroducedSale]);
}

#[test]
fn forged_tails_at_the_till_and_at_verification() {
    let (w, _d) = world();
    let a = w.at_retailer(2);
    let res = w.pos(&w.retailer, vec![PosItem::Code(tampered(&a[0]))]);
    assert!(!res[0].sellable);
    assert_eq!(scan(&w, &tampered(&a[1]), MOSCOW, 9), "forged");
    assert_eq!(scan(&w, &tampered(&a[0]), MOSCOW, 9), "forged");
    let r = risk(&w);
    let f = of_kind(&r, Kind::ForgedTail);
    assert_eq!(f.len(), 2, "one per presenter: {f:#?}");
    let till = f
        .iter()
        .find(|a| a.subject == Subject::Participant(w.retailer.id))
        .expect("till");
    assert_eq!(till.severity, risk::Severity::High);
    let public = f
        .iter()
        .find(|a| a.subject == Subject::Client(9))
        .expect("verify");
    assert_eq!(public.count, 2, "a guesser's attempts are one incident");
    assert_eq!(public.codes.len(), 2);
    assert_eq!(kinds(&r), [Kind::ForgedTail]);
}

#[test]
fn clone_scans_far_apart_but_not_a_trip() {
    let (w, _d) = world();
    let a = w.at_retailer(2);
    checked_sale(&w, &w.retailer, &a);
    // Copies of one label bought in two cities: three networks, two far apart.
    scan_from(&w, &a[0], MOSCOW, 1, 101);
    scan_from(&w, &a[0], (55.70, 37.50), 2, 102);
    assert!(of_kind(&risk(&w), Kind::CloneScans).is_empty(), "one city");
    scan_from(&w, &a[0], VLADIVOSTOK, 3, 103);
    let r = risk(&w);
    let c = of_kind(&r, Kind::CloneScans);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(
        c[0].subject,
        Subject::Code(types::feed::FactKey(
            registry::code_key(&a[0]).expect("key")
        ))
    );
    let km = c[0].details["distance_km"].as_f64().expect("distance");
    assert!((6_000.0..7_000.0).contains(&km), "{km}");
    assert_eq!(c[0].details["networks"], json!(3));
    assert_eq!(
        c[0].severity,
        risk::Severity::Medium,
        "one witness in Vladivostok"
    );
    // A second network in Vladivostok corroborates it: high.
    scan_from(&w, &a[0], VLADIVOSTOK, 4, 104);
    let c = of_kind(&risk(&w), Kind::CloneScans);
    assert_eq!(c.len(), 1, "one incident");
    assert_eq!(c[0].severity, risk::Severity::High);
    assert_eq!(
        c[0].details["networks_per_place"],
        json!({"first": 2, "second": 2})
    );
    // The other code travels with its owner: Vladivostok two days later is a trip.
    scan_from(&w, &a[1], MOSCOW, 1, 101);
    scan_from(&w, &a[1], MOSCOW, 2, 102);
    w.days(2);
    scan_from(&w, &a[1], VLADIVOSTOK, 1, 101);
    scan_from(&w, &a[1], VLADIVOSTOK, 3, 103);
    let r = risk(&w);
    assert_eq!(of_kind(&r, Kind::CloneScans).len(), 1);
    assert_eq!(kinds(&r), [Kind::CloneScans]);
}

#[test]
fn one_bought_label_and_a_few_addresses_are_no_clone() {
    // The attack of issue 14 (finding 10): one label, scans from two addresses (a page's
    // `<img>` tags make its visitors' browsers scan) claiming Moscow and Vladivostok.
    let (w, _d) = world();
    let a = w.at_retailer(1);
    checked_sale(&w, &w.retailer, &a);
    scan_from(&w, &a[0], MOSCOW, 1, 201);
    scan_from(&w, &a[0], VLADIVOSTOK, 2, 202);
    let replay = all(&risk(&w));
    eprintln!(
        "finding 10: one label, two addresses, 6,400 km apart: {} alerts",
        replay.len()
    );
    assert!(replay.is_empty(), "{replay:#?}");
    // Many visitors of the page, each network made to claim both places: no witnesses.
    for (client, net) in [(3, 203), (4, 204), (5, 205), (6, 206)] {
        scan_from(&w, &a[0], MOSCOW, client, net);
        scan_from(&w, &a[0], VLADIVOSTOK, client, net);
    }
    // Many addresses of one network (a /24) in both places: one witness that lies.
    for client in 10..20 {
        let place = if client % 2 == 0 { MOSCOW } else { VLADIVOSTOK };
        scan_from(&w, &a[0], place, client, 299);
    }
    // (The first visitor's Moscow scan, before its Vladivostok one shows it lying, looks
    // like a third witness: a medium alert at most.)
    let r = risk(&w);
    let high: Vec<_> = all(&r)
        .into_iter()
        .filter(|a| a.severity == risk::Severity::High)
        .collect();
    eprintln!(
        "finding 10: 16 addresses on 6 networks, each claiming both cities: {} alerts, {} high",
        all(&r).len(),
        high.len()
    );
    assert!(high.is_empty(), "{high:#?}");
}

#[test]
fn expired_and_recalled_sales() {
    let (w, _d) = world();
    let a = w.applied(1);
    w.introduce(&a, Some(w.date(1)), None);
    w.transfer(&w.producer, &w.retailer, &a);
    let b = w.at_retailer(1);
    w.days(3);
    assert!(w.sell(&w.retailer, &a).is_err());
    w.block(None, None, Some(b.clone()));
    assert!(w.sell(&w.retailer, &b).is_err());
    let r = risk(&w);
    assert_eq!(of_kind(&r, Kind::ExpiredSale).len(), 1);
    assert_eq!(of_kind(&r, Kind::RecalledSale).len(), 1);
    assert_eq!(kinds(&r), [Kind::ExpiredSale, Kind::RecalledSale]);
}

#[test]
fn sale_without_its_till_check() {
    let (w, _d) = world();
    let a = w.at_retailer(3);
    // Checked one code, sold two: the other was never asked about.
    let id = check(&w, &w.retailer, &a[0..1]);
    let mut body = w.sell_body(&a[0..2]);
    body["check_ids"] = json!([id]);
    w.doc(&w.retailer, body).expect("sale");
    w.sell(&w.retailer, &a[2..3]).expect("no check at all");
    let r = risk(&w);
    let u = of_kind(&r, Kind::UncheckedSale);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].count, 2);
    assert_eq!(u[0].severity, risk::Severity::Low);
    assert_eq!(kinds(&r), [Kind::UncheckedSale]);
}

#[test]
fn complaints_cluster_on_a_shop() {
    let (w, _d) = world();
    let a = w.at_retailer(3);
    let complain = |code: &str, client: u64| {
        w.reg
            .complain(
                types::complaints::NewComplaint {
                    code: Some(code.to_string()),
                    kind: "counterfeit".into(),
                    text: "fake".into(),
                    shop: None,
                    location: None,
                    photo: None,
                },
                format!("client-{client}"),
                Checker::Public(client),
            )
            .expect("complaint")
    };
    complain(&a[0], 1);
    complain(&a[1], 2);
    assert!(kinds(&risk(&w)).is_empty(), "two complaints are no cluster");
    // One person complaining again and again is still two people.
    complain(&a[1], 2);
    complain(&a[2], 2);
    assert!(
        kinds(&risk(&w)).is_empty(),
        "one complainant cannot frame a shop"
    );
    complain(&a[2], 3);
    let r = risk(&w);
    let c = of_kind(&r, Kind::ComplaintCluster);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].subject, Subject::Participant(w.retailer.id));
    assert_eq!(c[0].documents.len(), 5);
    assert_eq!(c[0].details["complainants"], json!(3));
    assert_eq!(kinds(&r), [Kind::ComplaintCluster]);
}

#[test]
fn an_acknowledged_incident_stays_closed_and_scores_sort() {
    let (w, _d) = world();
    let a = w.at_retailer(3);
    assert!(w.sell(&w.retailer2, &a[0..1]).is_err());
    let r = risk(&w);
    let g = of_kind(&r, Kind::GreySale)[0].clone();
    w.reg
        .ack_alert(&w.regulator, g.id, "inspection sent", Default::default())
        .expect("ack");
    assert!(w.sell(&w.retailer2, &a[1..2]).is_err());
    let r = risk(&w);
    let g2 = of_kind(&r, Kind::GreySale);
    assert_eq!(g2.len(), 2, "a new incident after the acknowledgement");
    let old = g2.iter().find(|x| x.id == g.id).expect("old");
    assert_eq!(
        old.ack.as_ref().map(|a| a.note.as_str()),
        Some("inspection sent")
    );
    assert_eq!(old.count, 1);
    let scores = r.scores(10);
    assert_eq!(scores[0].participant, w.retailer2.id);
    assert!(scores[0]
        .reasons
        .iter()
        .any(|x| x.kind == Kind::GreySale && x.alerts == 2));
}

#[test]
fn a_follower_restarted_from_its_rows_rebuilds_the_same_alerts() {
    let (w, _d) = world();
    let a = w.at_retailer(4);
    let id = check(&w, &w.retailer, &a[0..1]);
    let live = Arc::new(parking_lot::RwLock::new(Risk::new()));
    let mut f = registry::project::follow(&w.reg, live.clone()).expect("follow");
    assert!(w.sell(&w.retailer2, &a[0..1]).is_err());
    w.reg
        .writer_check(std::time::Duration::from_secs(5))
        .expect("writer");
    let head = w.reg.feed_signal().head();
    assert!(f.wait_applied(head, std::time::Duration::from_secs(5)));
    f.stop();
    // After the restart, a sale naming a check made before it is still checked (the
    // window was rebuilt), and new offences join the same incident.
    let mut body = w.sell_body(&a[0..1]);
    body["check_ids"] = json!([id]);
    w.doc(&w.retailer, body).expect("sale");
    assert!(w.sell(&w.retailer2, &a[1..2]).is_err());
    let again = Arc::new(parking_lot::RwLock::new(Risk::new()));
    let f2 = registry::project::follow(&w.reg, again.clone()).expect("follow again");
    w.reg
        .writer_check(std::time::Duration::from_secs(5))
        .expect("writer");
    let head = w.reg.feed_signal().head();
    assert!(f2.wait_applied(head, std::time::Duration::from_secs(5)));
    let from_scratch = risk(&w);
    assert_eq!(
        all(&again.read()),
        all(&from_scratch),
        "restart = replay from scratch"
    );
    assert!(of_kind(&from_scratch, Kind::UncheckedSale).is_empty());
}

#[test]
fn goods_on_their_way_to_the_seller_are_no_grey_sale() {
    let (w, _d) = world();
    let a = w.introduced(2);
    w.ship(&w.producer, &w.retailer, &a);
    // Sold before the shop accepted the shipment: refused, but no goods from nowhere.
    assert!(w.sell(&w.retailer, &a[0..1]).is_err());
    let r = risk(&w);
    assert!(all(&r).is_empty(), "{:#?}", all(&r));
}

#[test]
fn made_up_codes_and_typed_numbers_make_no_clone_alert() {
    let (w, _d) = world();
    let ghost = format!("01{}21MADEUPSERIAL", w.gtin);
    scan(&w, &ghost, MOSCOW, 1);
    scan(&w, &ghost, VLADIVOSTOK, 2);
    // A number typed without its crypto tail proves no one held the item.
    let a = w.at_retailer(1);
    let typed = conformance::id(&a[0]);
    scan(&w, &typed, MOSCOW, 1);
    scan(&w, &typed, VLADIVOSTOK, 2);
    let r = risk(&w);
    assert!(all(&r).is_empty(), "{:#?}", all(&r));
    // Nor does the feed keep scans of codes the registry never issued.
    let facts = w.reg.feed(0, 100_000).expect("feed");
    let ghost_key = registry::code_key(&ghost).expect("key");
    assert!(!facts.iter().any(|e| matches!(&e.fact,
        types::feed::Fact::Verified(v) if v.key.0 == ghost_key)));
}

#[test]
fn a_restart_right_after_a_till_check_keeps_it() {
    let (w, _d) = world();
    let a = w.at_retailer(1);
    let live = Arc::new(parking_lot::RwLock::new(Risk::new()));
    let mut f = registry::project::follow(&w.reg, live.clone()).expect("follow");
    // Only a till check, then a restart: the flush holds no row but the checkpoint.
    let id = check(&w, &w.retailer, &a);
    w.reg
        .writer_check(std::time::Duration::from_secs(5))
        .expect("writer");
    let head = w.reg.feed_signal().head();
    assert!(f.wait_applied(head, std::time::Duration::from_secs(5)));
    f.stop();
    let mut body = w.sell_body(&a);
    body["check_ids"] = json!([id]);
    w.doc(&w.retailer, body).expect("sale");
    let again = Arc::new(parking_lot::RwLock::new(Risk::new()));
    let f2 = registry::project::follow(&w.reg, again.clone()).expect("follow again");
    let head = w.reg.feed_signal().head();
    assert!(f2.wait_applied(head, std::time::Duration::from_secs(5)));
    assert!(all(&again.read()).is_empty(), "{:#?}", all(&again.read()));
}

#[test]
fn a_follower_restarted_with_an_alert_about_a_code_reloads_it() {
    // Alerts about a code (cloned labels) are kept in rows like any other, and read back.
    let (w, _d) = world();
    let a = w.at_retailer(1);
    checked_sale(&w, &w.retailer, &a);
    let live = Arc::new(parking_lot::RwLock::new(Risk::new()));
    let mut f = registry::project::follow(&w.reg, live.clone()).expect("follow");
    scan(&w, &a[0], MOSCOW, 1);
    scan(&w, &a[0], (55.70, 37.50), 3);
    scan(&w, &a[0], VLADIVOSTOK, 2);
    w.reg
        .writer_check(std::time::Duration::from_secs(5))
        .expect("writer");
    let head = w.reg.feed_signal().head();
    assert!(f.wait_applied(head, std::time::Duration::from_secs(5)));
    assert_eq!(of_kind(&live.read(), Kind::CloneScans).len(), 1);
    // `stop` writes the rows with their checkpoint: the restart loads them, not the feed.
    f.stop();
    let again = Arc::new(parking_lot::RwLock::new(Risk::new()));
    let f2 = registry::project::follow(&w.reg, again.clone())
        .expect("the engine starts again on its own rows");
    assert!(f2.wait_applied(head, std::time::Duration::from_secs(5)));
    assert_eq!(all(&again.read()), all(&live.read()));
    assert_eq!(of_kind(&again.read(), Kind::CloneScans).len(), 1);
}

/// A complaint about `code` by client `client`.
fn complain(w: &World, code: &str, client: u64) {
    w.reg
        .complain(
            types::complaints::NewComplaint {
                code: Some(code.to_string()),
                kind: "counterfeit".into(),
                text: "fake".into(),
                shop: None,
                location: None,
                photo: None,
            },
            format!("client-{client}"),
            Checker::Public(client),
        )
        .expect("complaint");
}

#[test]
fn complaints_without_a_tail_weigh_half() {
    // Finding 8: a printed number (no crypto tail) is something anyone can type; three
    // visitors of a hostile page filing it frame no shop.
    let (w, _d) = world();
    let a = w.at_retailer(3);
    let typed = conformance::id(&a[0]);
    for client in 1..=3 {
        complain(&w, &typed, client);
    }
    let r = risk(&w);
    eprintln!(
        "finding 8: three complainants with a typed number: {} complaint_cluster alerts",
        of_kind(&r, Kind::ComplaintCluster).len()
    );
    assert!(of_kind(&r, Kind::ComplaintCluster).is_empty());
    // Six typed complaints from six people weigh as three scanned labels.
    for client in 4..=5 {
        complain(&w, &typed, client);
    }
    assert!(kinds(&risk(&w)).is_empty(), "five typed weigh 2.5");
    complain(&w, &typed, 6);
    let c = of_kind(&risk(&w), Kind::ComplaintCluster);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].details["complainants"], json!(6));
    assert_eq!(c[0].details["complainants_with_label"], json!(0));
    assert_eq!(c[0].details["weight"], json!(3.0));

    // With the label: two scanned and two typed make a cluster (1 + 1 + ½ + ½).
    let (w, _d) = world();
    let a = w.at_retailer(3);
    complain(&w, &a[0], 1);
    complain(&w, &a[1], 2);
    // A forged tail proves no more than a typed number: 1 + 1 + ½.
    complain(&w, &tampered(&a[2]), 4);
    assert!(
        of_kind(&risk(&w), Kind::ComplaintCluster).is_empty(),
        "a forged tail weighs ½"
    );
    complain(&w, &conformance::id(&a[2]), 5);
    let c = of_kind(&risk(&w), Kind::ComplaintCluster);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].details["complainants_with_label"], json!(2));
}

/// A sale of `codes` with its receipt dated `days_back` days before now.
fn backdated_sale(
    w: &World,
    who: &types::model::Participant,
    codes: &[String],
    days_back: u64,
    check_ids: &[String],
) -> registry::Result<registry::documents::DocAnswer> {
    let mut body = w.sell_body(codes);
    body["receipt"]["at"] = json!(types::time::format_timestamp(w.now() - days_back * 86_400));
    if !check_ids.is_empty() {
        body["check_ids"] = json!(check_ids);
    }
    w.doc(who, body)
}

#[test]
fn a_backdated_receipt_of_expired_goods_raises_late_sale() {
    // Finding 7: a farm shop's code expired yesterday; its till check said `expired`; it
    // sells it with `receipt.at` three days back, naming the failed check.
    let (w, _d) = world();
    let a = w.applied(3);
    w.introduce(&a, Some(w.date(1)), None);
    w.transfer(&w.producer, &w.retailer, &a);
    w.days(2);
    let res = w.pos(&w.retailer, vec![PosItem::Code(a[0].clone())]);
    assert_eq!(res[0].reasons, ["expired"], "the till says expired");
    let failed = check(&w, &w.retailer, &a[0..1]);
    // Expired at the receipt's time: refused `expired`, as before.
    let e = w
        .sell(&w.retailer, &a[2..3])
        .expect_err("expired at the receipt");
    assert!(format!("{e:?}").contains("expired"), "{e:?}");
    // Dated back three days (before the expiry): accepted, the sale may have happened...
    backdated_sale(&w, &w.retailer, &a[0..1], 3, std::slice::from_ref(&failed))
        .expect("a sale before the expiry is accepted");
    let r = risk(&w);
    let late = of_kind(&r, Kind::LateSale);
    eprintln!(
        "finding 7: backdated sale of an expired code naming its failed check: {:?}",
        all(&r)
            .iter()
            .map(|a| (a.kind.name(), a.severity))
            .collect::<Vec<_>>()
    );
    assert_eq!(late.len(), 1, "{:#?}", all(&r));
    assert_eq!(late[0].subject, Subject::Participant(w.retailer.id));
    assert_eq!(late[0].severity, risk::Severity::High, "told at the till");
    assert_eq!(late[0].details["days_late"], json!(3));
    let code = registry::code_key(&a[0]).expect("key").to_string();
    assert_eq!(late[0].details["not_sellable_at_till"], json!([code]));
    // ...and the check that said `expired` is no check of the sale.
    let u = of_kind(&r, Kind::UncheckedSale);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].details["not_sellable_at_till"], json!([code]));
    // A till that reports late without a failed check: late_sale, medium.
    backdated_sale(&w, &w.retailer, &a[1..2], 3, &[]).expect("accepted");
    let late = of_kind(&risk(&w), Kind::LateSale);
    assert_eq!(late.len(), 1, "one incident per shop");
    assert_eq!(late[0].count, 2);
    // Past the fiscal window (30 days) a receipt is refused outright.
    let b = w.at_retailer(1);
    let e = backdated_sale(&w, &w.retailer, &b, 31, &[]).expect_err("too old");
    assert!(format!("{e}").contains("30 days"), "{e}");
}

#[test]
fn a_fresh_sale_of_goods_that_expire_later_is_not_late() {
    let (w, _d) = world();
    let a = w.applied(1);
    w.introduce(&a, Some(w.date(5)), None);
    w.transfer(&w.producer, &w.retailer, &a);
    checked_sale(&w, &w.retailer, &a);
    let r = risk(&w);
    assert!(all(&r).is_empty(), "{:#?}", all(&r));
}

#[test]
fn a_flooding_shop_forgets_its_own_checks_not_anothers() {
    // Finding 6 (d): one participant's checks cannot push another's out of the window.
    let (w, _d) = world();
    let honest = w.at_retailer(1);
    let id = check(&w, &w.retailer, &honest);
    // The flooder checks more codes than the engine keeps for one participant.
    let mine = w.introduced(5);
    w.transfer(&w.producer, &w.retailer2, &mine);
    w.reg
        .writer_check(std::time::Duration::from_secs(5))
        .expect("writer");
    let mut r = risk(&w);
    let codes: Vec<types::feed::CheckedCode> = (0..1_000)
        .map(|j| types::feed::CheckedCode {
            key: types::feed::FactKey(
                registry::code_key(&format!("01{}21FLOOD{j}", w.gtin)).expect("key"),
            ),
            sellable: true,
        })
        .collect();
    let fake = |i: usize, actor: u32| types::feed::FeedEntry {
        seq: 1_000_000 + i as u64,
        at: w.now(),
        fact: types::feed::Fact::TillCheck(types::feed::TillCheckFact {
            actor,
            request_id: uuid::Uuid::from_u128((u128::from(actor) << 64) | (i as u128 + 1)),
            at: w.now(),
            codes: codes.clone(),
        }),
    };
    // Past each flooder's own share, and five of them past everyone's: the honest check
    // is older than all of theirs.
    let floods = risk::CHECK_CODES_KEPT_PER_PARTICIPANT_MAX / 1_000 + 10;
    let flooders = [w.retailer2.id, 9_001, 9_002, 9_003, 9_004];
    let t = std::time::Instant::now();
    for i in 0..floods {
        for f in flooders {
            r.apply(&fake(i, f), &w.reg).expect("the registry answers");
        }
    }
    eprintln!(
        "finding 6: {} flooding checks of 1,000 codes by {} participants ({} codes, the engine \
         keeps {}) applied in {:?}",
        floods * flooders.len(),
        flooders.len(),
        floods * flooders.len() * 1_000,
        risk::CHECK_CODES_KEPT_MAX,
        t.elapsed()
    );
    // The honest shop sells, naming its check: checked.
    let mut body = w.sell_body(&honest);
    body["check_ids"] = json!([id]);
    w.doc(&w.retailer, body).expect("sale");
    let last = w.reg.feed(0, 1_000_000).expect("feed");
    if let Some(e) = last
        .iter()
        .rfind(|e| matches!(e.fact, types::feed::Fact::Document(_)))
    {
        r.apply(e, &w.reg).expect("the registry answers");
    }
    let u = of_kind(&r, Kind::UncheckedSale);
    assert!(
        u.is_empty(),
        "the honest shop's check survived the flood: {u:#?}"
    );
}
