//! Russia's federal subjects: ISO 3166-2:RU code, English name, IANA time zone and the
//! coordinates of the administrative centre.
//!
//! Participants register with an ISO 3166-2 region; the analytics need more than the code:
//! a sale's local day and hour are counted in the shop's own time zone (Russia spans eleven),
//! and the dashboard's map puts each region at a point. The point is the administrative
//! centre (the capital city), not the geometric centroid: that is where most of a region's
//! shops and shoppers are, and a centroid of Yakutia or Krasnoyarsk Krai lies in empty taiga.
//!
//! The table holds the 83 subdivisions ISO 3166-2:RU lists. Territories whose status is
//! disputed have no RU code in ISO 3166-2 (Crimea and Sevastopol are `UA-43` and `UA-40`
//! there) and are not listed; [`region`] answers `None` for a code it does not know, and
//! callers treat such a region as unknown rather than guess.

/// One federal subject.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `RU-MOW`.
    pub code: &'static str,
    /// English name, e.g. `Moscow`.
    pub name: &'static str,
    /// IANA time zone of the administrative centre, e.g. `Europe/Moscow` (a few large
    /// regions span more than one zone; the centre's is the one the region's business day
    /// follows).
    pub tz: &'static str,
    /// Latitude of the administrative centre, degrees north (WGS 84), two decimals (~1 km).
    pub lat: f64,
    /// Longitude of the administrative centre, degrees east (WGS 84), two decimals.
    pub lon: f64,
}

const fn r(code: &'static str, name: &'static str, tz: &'static str, lat: f64, lon: f64) -> Region {
    Region {
        code,
        name,
        tz,
        lat,
        lon,
    }
}

/// Every federal subject with an ISO 3166-2:RU code: 21 republics, 9 krais, 46 oblasts,
/// 2 federal cities, 1 autonomous oblast and 4 autonomous okrugs, in the order of the
/// standard's categories.
pub static REGIONS: [Region; 83] = [
    r("RU-AD", "Republic of Adygea", "Europe/Moscow", 44.61, 40.11),
    r("RU-AL", "Altai Republic", "Asia/Barnaul", 51.96, 85.96),
    r(
        "RU-BA",
        "Republic of Bashkortostan",
        "Asia/Yekaterinburg",
        54.74,
        55.97,
    ),
    r(
        "RU-BU",
        "Republic of Buryatia",
        "Asia/Irkutsk",
        51.83,
        107.58,
    ),
    r("RU-CE", "Chechen Republic", "Europe/Moscow", 43.32, 45.69),
    r("RU-CU", "Chuvash Republic", "Europe/Moscow", 56.15, 47.25),
    r(
        "RU-DA",
        "Republic of Dagestan",
        "Europe/Moscow",
        42.98,
        47.50,
    ),
    r(
        "RU-IN",
        "Republic of Ingushetia",
        "Europe/Moscow",
        43.17,
        44.81,
    ),
    r(
        "RU-KB",
        "Kabardino-Balkarian Republic",
        "Europe/Moscow",
        43.49,
        43.62,
    ),
    r(
        "RU-KL",
        "Republic of Kalmykia",
        "Europe/Moscow",
        46.31,
        44.26,
    ),
    r(
        "RU-KC",
        "Karachay-Cherkess Republic",
        "Europe/Moscow",
        44.23,
        42.05,
    ),
    r(
        "RU-KR",
        "Republic of Karelia",
        "Europe/Moscow",
        61.79,
        34.36,
    ),
    r(
        "RU-KK",
        "Republic of Khakassia",
        "Asia/Krasnoyarsk",
        53.72,
        91.44,
    ),
    r("RU-KO", "Komi Republic", "Europe/Moscow", 61.67, 50.84),
    r("RU-ME", "Mari El Republic", "Europe/Moscow", 56.63, 47.89),
    r(
        "RU-MO",
        "Republic of Mordovia",
        "Europe/Moscow",
        54.19,
        45.18,
    ),
    r(
        "RU-SA",
        "Sakha (Yakutia) Republic",
        "Asia/Yakutsk",
        62.03,
        129.73,
    ),
    r(
        "RU-SE",
        "North Ossetia–Alania",
        "Europe/Moscow",
        43.02,
        44.68,
    ),
    r(
        "RU-TA",
        "Republic of Tatarstan",
        "Europe/Moscow",
        55.79,
        49.12,
    ),
    r("RU-TY", "Tuva Republic", "Asia/Krasnoyarsk", 51.72, 94.45),
    r("RU-UD", "Udmurt Republic", "Europe/Samara", 56.85, 53.20),
    r("RU-ALT", "Altai Krai", "Asia/Barnaul", 53.35, 83.78),
    r("RU-KAM", "Kamchatka Krai", "Asia/Kamchatka", 53.02, 158.65),
    r(
        "RU-KHA",
        "Khabarovsk Krai",
        "Asia/Vladivostok",
        48.48,
        135.08,
    ),
    r("RU-KDA", "Krasnodar Krai", "Europe/Moscow", 45.04, 38.98),
    r(
        "RU-KYA",
        "Krasnoyarsk Krai",
        "Asia/Krasnoyarsk",
        56.01,
        92.87,
    ),
    r("RU-PER", "Perm Krai", "Asia/Yekaterinburg", 58.01, 56.23),
    r(
        "RU-PRI",
        "Primorsky Krai",
        "Asia/Vladivostok",
        43.12,
        131.89,
    ),
    r("RU-STA", "Stavropol Krai", "Europe/Moscow", 45.04, 41.97),
    r("RU-ZAB", "Zabaykalsky Krai", "Asia/Chita", 52.03, 113.50),
    r("RU-AMU", "Amur Oblast", "Asia/Yakutsk", 50.29, 127.53),
    r(
        "RU-ARK",
        "Arkhangelsk Oblast",
        "Europe/Moscow",
        64.54,
        40.54,
    ),
    r(
        "RU-AST",
        "Astrakhan Oblast",
        "Europe/Astrakhan",
        46.35,
        48.04,
    ),
    r("RU-BEL", "Belgorod Oblast", "Europe/Moscow", 50.60, 36.59),
    r("RU-BRY", "Bryansk Oblast", "Europe/Moscow", 53.24, 34.36),
    r(
        "RU-CHE",
        "Chelyabinsk Oblast",
        "Asia/Yekaterinburg",
        55.16,
        61.40,
    ),
    r("RU-IRK", "Irkutsk Oblast", "Asia/Irkutsk", 52.29, 104.28),
    r("RU-IVA", "Ivanovo Oblast", "Europe/Moscow", 57.00, 40.97),
    r(
        "RU-KGD",
        "Kaliningrad Oblast",
        "Europe/Kaliningrad",
        54.71,
        20.51,
    ),
    r("RU-KLU", "Kaluga Oblast", "Europe/Moscow", 54.51, 36.26),
    r(
        "RU-KEM",
        "Kemerovo Oblast",
        "Asia/Novokuznetsk",
        55.35,
        86.09,
    ),
    r("RU-KIR", "Kirov Oblast", "Europe/Kirov", 58.60, 49.66),
    r("RU-KOS", "Kostroma Oblast", "Europe/Moscow", 57.77, 40.93),
    r(
        "RU-KGN",
        "Kurgan Oblast",
        "Asia/Yekaterinburg",
        55.45,
        65.34,
    ),
    r("RU-KRS", "Kursk Oblast", "Europe/Moscow", 51.73, 36.19),
    r("RU-LEN", "Leningrad Oblast", "Europe/Moscow", 59.57, 30.13),
    r("RU-LIP", "Lipetsk Oblast", "Europe/Moscow", 52.61, 39.59),
    r("RU-MAG", "Magadan Oblast", "Asia/Magadan", 59.56, 150.80),
    r("RU-MOS", "Moscow Oblast", "Europe/Moscow", 55.83, 37.33),
    r("RU-MUR", "Murmansk Oblast", "Europe/Moscow", 68.97, 33.09),
    r(
        "RU-NIZ",
        "Nizhny Novgorod Oblast",
        "Europe/Moscow",
        56.33,
        44.00,
    ),
    r("RU-NGR", "Novgorod Oblast", "Europe/Moscow", 58.52, 31.27),
    r(
        "RU-NVS",
        "Novosibirsk Oblast",
        "Asia/Novosibirsk",
        55.03,
        82.92,
    ),
    r("RU-OMS", "Omsk Oblast", "Asia/Omsk", 54.99, 73.37),
    r(
        "RU-ORE",
        "Orenburg Oblast",
        "Asia/Yekaterinburg",
        51.77,
        55.10,
    ),
    r("RU-ORL", "Oryol Oblast", "Europe/Moscow", 52.97, 36.07),
    r("RU-PNZ", "Penza Oblast", "Europe/Moscow", 53.20, 45.00),
    r("RU-PSK", "Pskov Oblast", "Europe/Moscow", 57.82, 28.33),
    r("RU-ROS", "Rostov Oblast", "Europe/Moscow", 47.24, 39.71),
    r("RU-RYA", "Ryazan Oblast", "Europe/Moscow", 54.63, 39.74),
    r("RU-SAK", "Sakhalin Oblast", "Asia/Sakhalin", 46.96, 142.73),
    r("RU-SAM", "Samara Oblast", "Europe/Samara", 53.20, 50.15),
    r("RU-SAR", "Saratov Oblast", "Europe/Saratov", 51.53, 46.03),
    r("RU-SMO", "Smolensk Oblast", "Europe/Moscow", 54.78, 32.05),
    r(
        "RU-SVE",
        "Sverdlovsk Oblast",
        "Asia/Yekaterinburg",
        56.84,
        60.61,
    ),
    r("RU-TAM", "Tambov Oblast", "Europe/Moscow", 52.72, 41.45),
    r("RU-TOM", "Tomsk Oblast", "Asia/Tomsk", 56.49, 84.95),
    r("RU-TUL", "Tula Oblast", "Europe/Moscow", 54.19, 37.62),
    r("RU-TVE", "Tver Oblast", "Europe/Moscow", 56.86, 35.90),
    r(
        "RU-TYU",
        "Tyumen Oblast",
        "Asia/Yekaterinburg",
        57.15,
        65.53,
    ),
    r(
        "RU-ULY",
        "Ulyanovsk Oblast",
        "Europe/Ulyanovsk",
        54.32,
        48.40,
    ),
    r("RU-VLA", "Vladimir Oblast", "Europe/Moscow", 56.13, 40.41),
    r(
        "RU-VGG",
        "Volgograd Oblast",
        "Europe/Volgograd",
        48.71,
        44.51,
    ),
    r("RU-VLG", "Vologda Oblast", "Europe/Moscow", 59.22, 39.89),
    r("RU-VOR", "Voronezh Oblast", "Europe/Moscow", 51.66, 39.20),
    r("RU-YAR", "Yaroslavl Oblast", "Europe/Moscow", 57.63, 39.87),
    r("RU-MOW", "Moscow", "Europe/Moscow", 55.76, 37.62),
    r("RU-SPE", "Saint Petersburg", "Europe/Moscow", 59.94, 30.32),
    r(
        "RU-YEV",
        "Jewish Autonomous Oblast",
        "Asia/Vladivostok",
        48.79,
        132.92,
    ),
    r(
        "RU-CHU",
        "Chukotka Autonomous Okrug",
        "Asia/Anadyr",
        64.73,
        177.51,
    ),
    r(
        "RU-KHM",
        "Khanty-Mansi Autonomous Okrug – Yugra",
        "Asia/Yekaterinburg",
        61.00,
        69.02,
    ),
    r(
        "RU-NEN",
        "Nenets Autonomous Okrug",
        "Europe/Moscow",
        67.64,
        53.01,
    ),
    r(
        "RU-YAN",
        "Yamalo-Nenets Autonomous Okrug",
        "Asia/Yekaterinburg",
        66.53,
        66.61,
    ),
];

/// The region of an ISO 3166-2 code (exact, upper case as registered), if it is one of
/// [`REGIONS`].
pub fn region(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.code == code)
}

/// Great-circle distance between two regions' centres in kilometres (haversine on a
/// sphere of the Earth's mean radius): how far apart two scans of one code were.
pub fn distance_km(a: &Region, b: &Region) -> f64 {
    /// The Earth's mean radius, km (IUGG).
    const EARTH_RADIUS_KM: f64 = 6_371.0;
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The IANA zones that cover Russia (tzdata's zone1970.tab, country RU).
    const RUSSIAN_ZONES: [&str; 26] = [
        "Europe/Kaliningrad",
        "Europe/Moscow",
        "Europe/Kirov",
        "Europe/Volgograd",
        "Europe/Astrakhan",
        "Europe/Saratov",
        "Europe/Ulyanovsk",
        "Europe/Samara",
        "Asia/Yekaterinburg",
        "Asia/Omsk",
        "Asia/Novosibirsk",
        "Asia/Barnaul",
        "Asia/Tomsk",
        "Asia/Novokuznetsk",
        "Asia/Krasnoyarsk",
        "Asia/Irkutsk",
        "Asia/Chita",
        "Asia/Yakutsk",
        "Asia/Khandyga",
        "Asia/Vladivostok",
        "Asia/Ust-Nera",
        "Asia/Magadan",
        "Asia/Sakhalin",
        "Asia/Srednekolymsk",
        "Asia/Kamchatka",
        "Asia/Anadyr",
    ];

    #[test]
    fn codes_are_unique_iso_3166_2_ru() {
        let mut seen = HashSet::new();
        for r in &REGIONS {
            assert!(seen.insert(r.code), "{} twice", r.code);
            let sub = r.code.strip_prefix("RU-").expect("RU- prefix");
            assert!(
                (2..=3).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_uppercase()),
                "{}",
                r.code
            );
            assert!(!r.name.is_empty());
        }
        let names: HashSet<_> = REGIONS.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), REGIONS.len(), "names are unique too");
    }

    #[test]
    fn every_zone_is_a_russian_iana_zone() {
        for r in &REGIONS {
            assert!(RUSSIAN_ZONES.contains(&r.tz), "{}: {}", r.code, r.tz);
        }
        // Where the system has the tz database, every zone is in it too.
        let db = std::path::Path::new("/usr/share/zoneinfo");
        if db.join("Europe/Moscow").exists() {
            for r in &REGIONS {
                assert!(db.join(r.tz).exists(), "{}: {} not in tzdata", r.code, r.tz);
            }
        }
    }

    #[test]
    fn coordinates_lie_within_russia() {
        for r in &REGIONS {
            // Kaliningrad is the westernmost centre (20.5° E), Anadyr the easternmost
            // (177.5° E); Makhachkala the southernmost (43° N), Murmansk the northernmost.
            assert!((41.0..=70.0).contains(&r.lat), "{}: {}", r.code, r.lat);
            assert!((19.0..=180.0).contains(&r.lon), "{}: {}", r.code, r.lon);
        }
    }

    #[test]
    fn looks_up_and_measures() {
        let moscow = region("RU-MOW").expect("Moscow");
        assert_eq!(moscow.tz, "Europe/Moscow");
        let vladivostok = region("RU-PRI").expect("Primorsky Krai");
        assert_eq!(vladivostok.tz, "Asia/Vladivostok");
        assert!(region("RU-XXX").is_none());
        assert!(
            region("ru-mow").is_none(),
            "codes are matched as registered"
        );
        // Moscow–Vladivostok is about 6,400 km as the crow flies.
        let d = distance_km(moscow, vladivostok);
        assert!((6_200.0..6_600.0).contains(&d), "{d}");
        assert!(distance_km(moscow, moscow) < 1e-6);
    }
}
