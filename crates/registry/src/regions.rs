//! Regions (ISO 3166-2) with their IANA time zone and a representative point.
//!
//! A minimal table for the analytics (local days and hours per region); the full table of
//! every region replaces it.

/// A region.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `RU-MOW`.
    pub code: &'static str,
    /// Name.
    pub name: &'static str,
    /// IANA time zone, e.g. `Europe/Moscow`.
    pub tz: &'static str,
    /// Latitude of its capital, degrees.
    pub lat: f64,
    /// Longitude of its capital, degrees.
    pub lon: f64,
}

/// The regions known.
pub const REGIONS: &[Region] = &[
    Region {
        code: "RU-MOW",
        name: "Moscow",
        tz: "Europe/Moscow",
        lat: 55.7558,
        lon: 37.6173,
    },
    Region {
        code: "RU-SPE",
        name: "Saint Petersburg",
        tz: "Europe/Moscow",
        lat: 59.9386,
        lon: 30.3141,
    },
    Region {
        code: "RU-KGD",
        name: "Kaliningrad Oblast",
        tz: "Europe/Kaliningrad",
        lat: 54.7104,
        lon: 20.4522,
    },
    Region {
        code: "RU-SVE",
        name: "Sverdlovsk Oblast",
        tz: "Asia/Yekaterinburg",
        lat: 56.8389,
        lon: 60.6057,
    },
    Region {
        code: "RU-NVS",
        name: "Novosibirsk Oblast",
        tz: "Asia/Novosibirsk",
        lat: 55.0084,
        lon: 82.9357,
    },
    Region {
        code: "RU-PRI",
        name: "Primorsky Krai",
        tz: "Asia/Vladivostok",
        lat: 43.1155,
        lon: 131.8855,
    },
    Region {
        code: "RU-TA",
        name: "Republic of Tatarstan",
        tz: "Europe/Moscow",
        lat: 55.7887,
        lon: 49.1221,
    },
    Region {
        code: "RU-KDA",
        name: "Krasnodar Krai",
        tz: "Europe/Moscow",
        lat: 45.0355,
        lon: 38.9753,
    },
];

/// The region of an ISO 3166-2 code.
pub fn region(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.code == code)
}
