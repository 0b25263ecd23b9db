//! Who is in the demo economy and what they make: the fixed cast (names, regions, product
//! cards). Identifiers (TINs, GS1 prefixes, GTINs) are drawn from the seeded generator in
//! `mod.rs`; this file holds only what stays the same from run to run.

/// A product a maker registers: its card and how its codes are issued.
#[derive(Clone, Copy, Debug)]
pub struct ProductSpec {
    /// The card's name.
    pub name: &'static str,
    /// Product group (the analytics' `product_group`).
    pub group: &'static str,
    /// Brand.
    pub brand: &'static str,
    /// Crypto tail kind: `short` (AI 93) for small cheap packages, `mac` or `signature`.
    pub tail: &'static str,
    /// Shelf life in days (perishables), if any: the expiry date is production + this.
    pub shelf_life_days: Option<u32>,
    /// Maximum retail price in kopecks (tobacco), if any.
    pub max_retail_price: Option<u64>,
}

/// How a maker brings goods into circulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MakerKind {
    /// Makes goods in Russia under its own GS1 prefix (`introduce`).
    Producer,
    /// Imports foreign brands' goods (`import`, GTINs of prefixes nobody here holds).
    Importer,
}

/// A producer or importer.
#[derive(Clone, Copy, Debug)]
pub struct MakerSpec {
    /// Legal name.
    pub name: &'static str,
    /// Producer or importer.
    pub kind: MakerKind,
    /// ISO 3166-2 region.
    pub region: &'static str,
    /// What it makes.
    pub products: &'static [ProductSpec],
}

const fn p(
    name: &'static str,
    group: &'static str,
    brand: &'static str,
    tail: &'static str,
    shelf_life_days: Option<u32>,
    max_retail_price: Option<u64>,
) -> ProductSpec {
    ProductSpec {
        name,
        group,
        brand,
        tail,
        shelf_life_days,
        max_retail_price,
    }
}

/// The makers, in registration order. The dairy is first: its kefir is the batch the
/// regulator recalls ([`RECALLED_MAKER`], [`RECALLED_PRODUCT`]).
pub const MAKERS: [MakerSpec; 7] = [
    MakerSpec {
        name: "Vologda Dairy JSC",
        kind: MakerKind::Producer,
        region: "RU-VLG",
        products: &[
            p(
                "Milk 3.2%, 1 l",
                "milk",
                "Vologodskoe",
                "short",
                Some(10),
                None,
            ),
            p(
                "Kefir 1%, 900 ml",
                "milk",
                "Vologodskoe",
                "short",
                Some(7),
                None,
            ),
            p(
                "Cottage cheese 5%, 200 g",
                "milk",
                "Vologodskoe",
                "short",
                Some(14),
                None,
            ),
        ],
    },
    MakerSpec {
        name: "Don Tobacco Factory LLC",
        kind: MakerKind::Producer,
        region: "RU-ROS",
        products: &[
            p(
                "Cigarettes Donskoy Gold, 20 pcs",
                "tobacco",
                "Donskoy",
                "short",
                None,
                Some(21_900),
            ),
            p(
                "Cigarettes Donskoy Slims, 20 pcs",
                "tobacco",
                "Donskoy",
                "short",
                None,
                Some(18_500),
            ),
        ],
    },
    MakerSpec {
        name: "Ural Shoe Factory LLC",
        kind: MakerKind::Producer,
        region: "RU-SVE",
        products: &[
            p(
                "Men's winter boots, size 43",
                "shoes",
                "Uralobuv",
                "mac",
                None,
                None,
            ),
            p(
                "Women's leather loafers, size 38",
                "shoes",
                "Uralobuv",
                "mac",
                None,
                None,
            ),
            p(
                "Children's sneakers, size 31",
                "shoes",
                "Uralobuv",
                "mac",
                None,
                None,
            ),
        ],
    },
    MakerSpec {
        name: "Baikal Springs LLC",
        kind: MakerKind::Producer,
        region: "RU-IRK",
        products: &[
            p(
                "Drinking water, 0.5 l",
                "water",
                "Baikal Deep",
                "short",
                Some(365),
                None,
            ),
            p(
                "Mineral water, 1.5 l",
                "water",
                "Baikal Deep",
                "short",
                Some(365),
                None,
            ),
        ],
    },
    MakerSpec {
        name: "Kazan Brewery JSC",
        kind: MakerKind::Producer,
        region: "RU-TA",
        products: &[p(
            "Lager beer, 0.5 l can",
            "beer",
            "Kazanskoe",
            "short",
            Some(180),
            None,
        )],
    },
    MakerSpec {
        name: "Baltic Optics Import LLC",
        kind: MakerKind::Importer,
        region: "RU-KGD",
        products: &[
            p(
                "Mirrorless camera body",
                "cameras",
                "Koshi",
                "signature",
                None,
                None,
            ),
            p(
                "Camera lens 50 mm f/1.8",
                "cameras",
                "Koshi",
                "signature",
                None,
                None,
            ),
        ],
    },
    MakerSpec {
        name: "Nevsky Perfume Import JSC",
        kind: MakerKind::Importer,
        region: "RU-SPE",
        products: &[
            p(
                "Eau de parfum, 50 ml",
                "perfume",
                "Maison Lune",
                "signature",
                Some(1_095),
                None,
            ),
            p(
                "Eau de toilette, 100 ml",
                "perfume",
                "Maison Lune",
                "signature",
                Some(1_095),
                None,
            ),
        ],
    },
];

/// The maker whose batch is recalled (an index into [`MAKERS`]): the dairy.
pub const RECALLED_MAKER: usize = 0;
/// The recalled product (an index into that maker's products): the kefir.
pub const RECALLED_PRODUCT: usize = 1;

/// The maker whose spare labels leak to the counterfeiter (an order it never applies):
/// the shoe factory.
pub const LEAKING_MAKER: usize = 2;

/// The farm shop's own product (the `expired_seller` makes it and sells it past its date).
pub const FARM_PRODUCT: ProductSpec = p(
    "Farm kefir 2.5%, 500 ml",
    "milk",
    "Kuban Farm",
    "short",
    Some(5),
    None,
);

/// Wholesalers: name and region.
pub const WHOLESALERS: [(&str, &str); 4] = [
    ("Central Distribution LLC", "RU-MOS"),
    ("Siberian Logistics LLC", "RU-NVS"),
    ("Volga Trade House JSC", "RU-SAM"),
    ("Far East Supply LLC", "RU-KHA"),
];

/// Honest shops: name and region (at least eight regions, from Kaliningrad to Vladivostok).
pub const SHOPS: [(&str, &str); 12] = [
    ("Tverskaya Market", "RU-MOW"),
    ("Arbat Shoes & More", "RU-MOW"),
    ("Nevsky Store", "RU-SPE"),
    ("Akademgorodok Grocery", "RU-NVS"),
    ("Ural Mall", "RU-SVE"),
    ("Kazan Bazaar", "RU-TA"),
    ("Kuban Supermarket", "RU-KDA"),
    ("Golden Horn Shop", "RU-PRI"),
    ("Amber Store", "RU-KGD"),
    ("Volga Embankment Shop", "RU-NIZ"),
    ("Don Market", "RU-ROS"),
    ("Angara Grocery", "RU-IRK"),
];

/// The kinds of wrong the demo plants, each done by one participant (the `Planted` ledger's
/// `kind`, and the alert kind the risk engine is expected to raise).
pub mod kind {
    /// A code already sold is sold again (a cloned label).
    pub const REPEAT_SALE: &str = "repeat_sale";
    /// A code emitted but never introduced is sold (a leaked, never-applied label).
    pub const NOT_INTRODUCED_SALE: &str = "not_introduced_sale";
    /// One code verified by shoppers far apart within a minute.
    pub const CLONE_SCANS: &str = "clone_scans";
    /// A shop sells codes it never received (owned by someone else).
    pub const GREY_SALE: &str = "grey_sale";
    /// A shop's sale attempts of a GTIN exceed what it received of it.
    pub const SALES_EXCEED_RECEIPTS: &str = "sales_exceed_receipts";
    /// Real codes presented at a till with guessed crypto tails.
    pub const FORGED_TAIL: &str = "forged_tail";
    /// Goods past their expiry date offered for sale.
    pub const EXPIRED_SALE: &str = "expired_sale";
    /// Goods of a recalled batch sold without a till check.
    pub const RECALLED_SALE: &str = "recalled_sale";
    /// Shoppers' complaints about one shop, several within minutes.
    pub const COMPLAINT_CLUSTER: &str = "complaint_cluster";
}

/// The planted offenders: their role in the story (the ledger's participant label), name,
/// region, and whether they take honest deliveries.
pub struct OffenderSpec {
    /// Stable label: `counterfeiter`, `grey_seller`, …
    pub label: &'static str,
    /// Legal name.
    pub name: &'static str,
    /// ISO 3166-2 region.
    pub region: &'static str,
}

/// The retailers that offend (the farm shop, a producer too, is [`FARM_SHOP`]).
pub const OFFENDERS: [OffenderSpec; 5] = [
    OffenderSpec {
        label: "counterfeiter",
        name: "Bargain Corner",
        region: "RU-MOW",
    },
    OffenderSpec {
        label: "grey_seller",
        name: "Discount Warehouse",
        region: "RU-SAM",
    },
    OffenderSpec {
        label: "tail_guesser",
        name: "Lucky Till",
        region: "RU-DA",
    },
    OffenderSpec {
        label: "recall_ignorer",
        name: "Corner Deli",
        region: "RU-VLG",
    },
    OffenderSpec {
        label: "complained_shop",
        name: "Riverside Minimarket",
        region: "RU-NIZ",
    },
];

/// The farm shop that sells its own dairy past its date (`expired_seller`).
pub const FARM_SHOP: OffenderSpec = OffenderSpec {
    label: "expired_seller",
    name: "Kuban Farm Shop",
    region: "RU-KDA",
};

/// The regulator.
pub const REGULATOR: (&str, &str) = ("Federal Inspectorate for Marked Goods", "RU-MOW");

/// Where the shoppers who verify one cloned code stand: far apart (Moscow and
/// Vladivostok, ~6,400 km), so two scans within a minute cannot be one item.
pub const CLONE_SCAN_REGIONS: [&str; 2] = ["RU-MOW", "RU-PRI"];
