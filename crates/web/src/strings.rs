//! Every word the page says, one table per language ([`RU`], [`EN`]).
//!
//! The tables are Rust values of one struct, so a string missing from one language is a
//! compile error, not a blank on a shopper's phone. The server-rendered page reads
//! [`Strings`]; the script gets [`JsStrings`] as JSON in the page (`#page-data`), so both
//! speak from the same table. Placeholders are `{name}`, filled by [`fill`].

use serde::Serialize;

/// What the page says about one verdict.
#[derive(Debug)]
pub struct VerdictText {
    /// The headline (`#headline`).
    pub headline: &'static str,
    /// What the verdict means, one or two sentences.
    pub explain: &'static str,
    /// What to do next (`#next-steps`), in order.
    pub steps: &'static [&'static str],
    /// The icon's text alternative (never colour alone).
    pub icon_label: &'static str,
}

/// The verdict texts, one per verdict of the verify answer plus the page's own states.
#[derive(Debug)]
pub struct Verdicts {
    /// In circulation, tail checked.
    pub genuine: VerdictText,
    /// Sold to a consumer already.
    pub sold: VerdictText,
    /// Emitted but not (or no longer) in circulation.
    pub not_in_circulation: VerdictText,
    /// In circulation but presented without its crypto tail.
    pub unverified: VerdictText,
    /// Blocked or recalled by a regulator.
    pub recalled: VerdictText,
    /// Past its expiry date.
    pub expired: VerdictText,
    /// Never issued.
    pub unknown: VerdictText,
    /// The crypto tail does not match.
    pub forged: VerdictText,
    /// Not a code at all (400).
    pub malformed: VerdictText,
    /// The service worker's shell: the network is down.
    pub offline: VerdictText,
}

/// The words of a malformed code's fault (see `fault.rs`).
#[derive(Debug)]
pub struct FaultText {
    /// `{field}`, `{expected}`, `{found}`.
    pub check_digit: &'static str,
    /// `{field}`, `{len}`, `{expected}`.
    pub length: &'static str,
    /// `{min}`, `{max}`: a length range.
    pub range: &'static str,
    /// `{field}`, `{ch}`.
    pub character: &'static str,
    /// `{ai}`.
    pub unknown_ai: &'static str,
    /// No data at all.
    pub empty: &'static str,
    /// `{field}`, `{value}`.
    pub date: &'static str,
    /// `{field}`.
    pub duplicate: &'static str,
    /// Anything else: not the shape of a marking code.
    pub format: &'static str,
    /// Field names: GTIN (01).
    pub field_gtin: &'static str,
    /// Serial (21).
    pub field_serial: &'static str,
    /// SSCC (00).
    pub field_sscc: &'static str,
    /// Key id (91).
    pub field_kid: &'static str,
    /// Signature or MAC (92).
    pub field_sig: &'static str,
    /// Short tail (93).
    pub field_short: &'static str,
    /// Another AI: `{ai}`.
    pub field_other: &'static str,
    /// The link itself (no AI).
    pub field_link: &'static str,
    /// Label of the technical detail.
    pub technical: &'static str,
}

/// The strings the script uses, sent to it as JSON in the page.
#[derive(Debug, Serialize)]
pub struct JsStrings {
    /// Offline check: under way.
    pub offline_pending: &'static str,
    /// Offline check: signature valid (`{kid}`).
    pub offline_valid: &'static str,
    /// Offline check: signature does not match.
    pub offline_invalid: &'static str,
    /// The label names a key the registry has not published (`{kid}`).
    pub offline_unknown_key: &'static str,
    /// The key is not among those saved on the phone, and no network to fetch it.
    pub offline_key_not_saved: &'static str,
    /// A MAC or short tail: only the registry can check it.
    pub offline_mac: &'static str,
    /// No tail at all.
    pub offline_no_tail: &'static str,
    /// The browser has no WebCrypto Ed25519.
    pub offline_no_crypto: &'static str,
    /// No keys saved and no network.
    pub offline_no_keys: &'static str,
    /// No network; the signature is genuine.
    pub net_offline_valid: &'static str,
    /// No network; the signature does not match.
    pub net_offline_invalid: &'static str,
    /// No network; nothing could be checked on the phone.
    pub net_offline_unavailable: &'static str,
    /// When the keys used were fetched (`{date}`).
    pub keys_saved: &'static str,
    /// The offline page's line naming the code read from the address (`{gtin}`,
    /// `{serial}`).
    pub code_line: &'static str,
    /// Camera button, to start.
    pub camera_start: &'static str,
    /// Camera button, to stop.
    pub camera_stop: &'static str,
    /// Camera: starting.
    pub camera_starting: &'static str,
    /// Camera: looking for a code.
    pub camera_scanning: &'static str,
    /// Camera: a code was read, opening its page.
    pub camera_found: &'static str,
    /// Camera permission denied.
    pub camera_denied: &'static str,
    /// No camera on the device.
    pub camera_none: &'static str,
    /// No camera API (insecure context or old browser).
    pub camera_unsupported: &'static str,
    /// Camera in use by another app, or another failure (`{error}`).
    pub camera_failed: &'static str,
    /// The registry answered an error (`{status}`); still trying.
    pub camera_server: &'static str,
    /// A chosen photo is being read.
    pub photo_reading: &'static str,
    /// No code could be read in the chosen photo.
    pub photo_none: &'static str,
    /// The chosen file is not a picture the registry reads, or too large.
    pub photo_bad: &'static str,
    /// Too many frames; slowing down.
    pub camera_slow: &'static str,
    /// No network while scanning.
    pub camera_network: &'static str,
    /// Stopped.
    pub camera_stopped: &'static str,
    /// Complaint: sending.
    pub complaint_sending: &'static str,
    /// Complaint: sent (`{id}`).
    pub complaint_sent: &'static str,
    /// Complaint refused (`{detail}`).
    pub complaint_error: &'static str,
    /// Complaint: too many from this address.
    pub complaint_too_many: &'static str,
    /// Complaint: no network.
    pub complaint_network: &'static str,
    /// Complaint: the text is empty.
    pub complaint_text_empty: &'static str,
    /// Complaint: getting the location.
    pub complaint_locating: &'static str,
    /// Complaint: location refused or unavailable; sent without.
    pub complaint_no_location: &'static str,
    /// Complaint: the photo could not be read.
    pub complaint_photo_bad: &'static str,
}

/// One language's table.
#[derive(Debug)]
pub struct Strings {
    /// The language's own name (the other page's `#lang-switch` text).
    pub name: &'static str,
    /// The service's name.
    pub site: &'static str,
    /// Under the name: what the site does.
    pub tagline: &'static str,
    /// Skip link.
    pub skip: &'static str,
    /// Verdict texts.
    pub verdicts: Verdicts,
    /// The product card's heading.
    pub product_heading: &'static str,
    /// Product name.
    pub product_name: &'static str,
    /// Brand.
    pub brand: &'static str,
    /// Product group.
    pub group: &'static str,
    /// GTIN.
    pub gtin: &'static str,
    /// Serial number.
    pub serial: &'static str,
    /// Producer.
    pub producer: &'static str,
    /// Taxpayer number, before the number.
    pub tin: &'static str,
    /// Production date.
    pub production_date: &'static str,
    /// Expiry date.
    pub expiry_date: &'static str,
    /// When sold.
    pub sold_at: &'static str,
    /// When checked.
    pub checked_at: &'static str,
    /// The code as checked.
    pub code: &'static str,
    /// `#next-steps` heading.
    pub next_heading: &'static str,
    /// Offline check heading.
    pub offline_heading: &'static str,
    /// The offline check without JavaScript.
    pub offline_nojs: &'static str,
    /// The camera section's heading on a verdict page.
    pub scan_heading: &'static str,
    /// The scan page's title and heading.
    pub scan_title: &'static str,
    /// The scan page's explanation.
    pub scan_intro: &'static str,
    /// What happens to the camera's pictures.
    pub scan_privacy: &'static str,
    /// Camera button.
    pub camera_button: &'static str,
    /// The video's accessible name.
    pub camera_video: &'static str,
    /// The camera without JavaScript.
    pub camera_nojs: &'static str,
    /// The photo picker's label.
    pub photo_button: &'static str,
    /// Complaint heading.
    pub complaint_heading: &'static str,
    /// Complaint: who reads it.
    pub complaint_intro: &'static str,
    /// Kind label.
    pub complaint_kind: &'static str,
    /// Kinds, in the API's words' order: counterfeit, expired, sold_twice, no_marking,
    /// price, other.
    pub complaint_kinds: [(&'static str, &'static str); 6],
    /// Text label.
    pub complaint_text: &'static str,
    /// Text hint.
    pub complaint_text_hint: &'static str,
    /// Shop label.
    pub complaint_shop: &'static str,
    /// Shop hint.
    pub complaint_shop_hint: &'static str,
    /// Photo label.
    pub complaint_photo: &'static str,
    /// Photo hint.
    pub complaint_photo_hint: &'static str,
    /// Location checkbox.
    pub complaint_location: &'static str,
    /// Location hint (consent: optional).
    pub complaint_location_hint: &'static str,
    /// Submit.
    pub complaint_submit: &'static str,
    /// Sending needs JavaScript.
    pub complaint_nojs: &'static str,
    /// Footer text.
    pub footer: &'static str,
    /// Link to the public keys.
    pub footer_keys: &'static str,
    /// Link to the scan page.
    pub footer_scan: &'static str,
    /// Fault words of a malformed code.
    pub fault: FaultText,
    /// Month names as used in a date ("29 November 2026" / "29 ноября 2026").
    pub months: [&'static str; 12],
    /// The time zone shown after times.
    pub utc: &'static str,
    /// The script's strings.
    pub js: JsStrings,
    /// The regulator's dashboard and the business cabinet.
    pub board: &'static BoardStrings,
}

/// Fills `{name}` placeholders. Values are inserted as they are: the caller escapes
/// for the context (the templates escape everything they print).
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in args {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// English.
pub static EN: Strings = Strings {
    name: "English",
    site: "Tracemark",
    tagline: "Check a marked item",
    skip: "Skip to the result",
    verdicts: Verdicts {
        genuine: VerdictText {
            headline: "Genuine",
            explain: "The registry issued this code, the label's signature matches, and the item is in circulation: it may be sold.",
            steps: &[
                "Check that the name and producer below match the package.",
                "Keep the receipt when you buy.",
                "If something is wrong with the item itself, report it below.",
            ],
            icon_label: "Check mark: genuine",
        },
        sold: VerdictText {
            headline: "Already sold",
            explain: "The code is genuine, but the registry has this item as already sold to a buyer.",
            steps: &[
                "If you bought this item and are checking it at home, all is in order.",
                "If you are buying it now in a shop, the code was already sold: the label may be copied from another package. Do not buy it, and report it below.",
            ],
            icon_label: "Information: sold",
        },
        not_in_circulation: VerdictText {
            headline: "Not in circulation",
            explain: "The code exists, but the item was not put into circulation (or was taken out of it): it must not be on sale.",
            steps: &[
                "Do not buy it.",
                "If you saw it on sale, report it below with the shop's name.",
            ],
            icon_label: "Information: not in circulation",
        },
        unverified: VerdictText {
            headline: "Not verified",
            explain: "The code is in the registry, but it was checked without the label's cryptographic signature. A number alone proves nothing: anyone can copy it.",
            steps: &[
                "Scan the code on the label with the camera (the button below) to check it fully.",
                "If the label has no code to scan, ask the shop for another item.",
            ],
            icon_label: "Information: not verified",
        },
        recalled: VerdictText {
            headline: "Recalled",
            explain: "The code is genuine, but a regulator has blocked or recalled this item.",
            steps: &[
                "Do not buy or use it.",
                "If you already bought it, stop using it and return it to the shop with the receipt.",
                "If it is on sale, report it below.",
            ],
            icon_label: "Warning: recalled",
        },
        expired: VerdictText {
            headline: "Expired",
            explain: "The code is genuine, but the item's expiry date has passed.",
            steps: &[
                "Do not buy or use it.",
                "If it is on sale, report it below with the shop's name.",
                "If you already bought it, return it to the shop with the receipt.",
            ],
            icon_label: "Warning: expired",
        },
        unknown: VerdictText {
            headline: "Unknown code",
            explain: "The registry never issued this code. The label is most likely fake.",
            steps: &[
                "Do not buy it.",
                "If you already bought it, keep the item and the receipt.",
                "Report it below: say where you saw it.",
            ],
            icon_label: "Warning: unknown code",
        },
        forged: VerdictText {
            headline: "Forged label",
            explain: "The number exists, but the label's cryptographic signature is not the one the registry issued: someone else made this label.",
            steps: &[
                "Do not buy it.",
                "If you already bought it, keep the receipt and the item.",
                "Report it below: the regulator will check the shop.",
            ],
            icon_label: "Warning: forged",
        },
        malformed: VerdictText {
            headline: "Not a valid code",
            explain: "This is not a correct marking code, so it cannot be checked.",
            steps: &[
                "If you typed the number, compare it with the label and try again.",
                "If you scanned the label, it is damaged or fake: do not buy the item, and report it below.",
            ],
            icon_label: "Warning: not a valid code",
        },
        offline: VerdictText {
            headline: "No network",
            explain: "The registry could not be reached, so whether the item was sold or recalled is not known. The label's signature is checked on this phone below.",
            steps: &[
                "Check again when you are online.",
                "If the signature below does not match, do not buy the item.",
            ],
            icon_label: "Information: no network",
        },
    },
    product_heading: "Product",
    product_name: "Name",
    brand: "Brand",
    group: "Product group",
    gtin: "GTIN",
    serial: "Serial number",
    producer: "Producer",
    tin: "TIN",
    production_date: "Produced",
    expiry_date: "Use by",
    sold_at: "Sold",
    checked_at: "Checked",
    code: "Code",
    next_heading: "What to do next",
    offline_heading: "Signature check on this phone",
    offline_nojs: "This check needs JavaScript; the verdict above does not.",
    scan_heading: "Check another item",
    scan_title: "Check a marked item",
    scan_intro: "Point your phone's camera at the Data Matrix or QR code on the package. The page reads it and shows whether the item is genuine. No app needed.",
    scan_privacy: "Pictures from the camera are sent to the registry only to read the code.",
    camera_button: "Scan with the camera",
    camera_video: "Camera view",
    camera_nojs: "Scanning in the page needs JavaScript. A QR code can also be opened with your phone's own camera app.",
    photo_button: "Or choose a photo of the code",
    complaint_heading: "Report a problem",
    complaint_intro: "Your report goes to the regulator. We do not ask for your name.",
    complaint_kind: "What is wrong",
    complaint_kinds: [
        ("counterfeit", "Looks fake"),
        ("expired", "Expired"),
        ("sold_twice", "Code already sold"),
        ("no_marking", "No marking, or it cannot be read"),
        ("price", "Price above the maximum"),
        ("other", "Something else"),
    ],
    complaint_text: "What happened",
    complaint_text_hint: "Up to 2000 characters.",
    complaint_shop: "Shop: name and address",
    complaint_shop_hint: "Optional.",
    complaint_photo: "Photo",
    complaint_photo_hint: "Optional. Made smaller on your phone before it is sent.",
    complaint_location: "Add my location to the report",
    complaint_location_hint: "Optional: it helps the regulator find the shop. Sent only if you tick this.",
    complaint_submit: "Send the report",
    complaint_nojs: "Sending a report needs JavaScript.",
    footer: "Tracemark, the national registry of marked goods.",
    footer_keys: "Public keys",
    footer_scan: "Scan a code",
    fault: FaultText {
        check_digit: "The last digit of the {field} should be {expected}, it is {found}: the number was mistyped or the label is fake.",
        length: "The {field} has {len} characters; it should have {expected}.",
        range: "{min} to {max}",
        character: "The {field} holds a character that is not allowed: «{ch}».",
        unknown_ai: "The code holds a part this system does not know ({ai}).",
        empty: "The code is empty.",
        date: "{value} in the {field} is not a real date.",
        duplicate: "The {field} appears twice in the code.",
        format: "This is not a marking code: it must hold a GTIN (01) and a serial number (21).",
        field_gtin: "GTIN",
        field_serial: "serial number",
        field_sscc: "SSCC",
        field_kid: "key number (91)",
        field_sig: "signature (92)",
        field_short: "short signature (93)",
        field_other: "part ({ai})",
        field_link: "link",
        technical: "Technical detail",
    },
    months: [
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ],
    utc: "UTC",
    board: &BOARD_EN,
    js: JsStrings {
        offline_pending: "Checking the label's signature on this phone…",
        offline_valid: "The label's signature is genuine: the registry issued this label (key {kid}). Checked on this phone.",
        offline_invalid: "The label's signature does not match: the registry did not issue this label.",
        offline_unknown_key: "The label names a key ({kid}) the registry never published: the registry did not issue this label.",
        offline_key_not_saved: "The label's key ({kid}) is not among the keys saved on this phone. Check again when online.",
        offline_mac: "This label's signature can be checked by the registry only, not on the phone.",
        offline_no_tail: "The code carries no signature: there is nothing to check on this phone.",
        offline_no_crypto: "This browser cannot check Ed25519 signatures.",
        offline_no_keys: "The registry's keys are not saved on this phone yet: check any code once while online.",
        net_offline_valid: "No network: the label's signature was checked on this phone and it is genuine — the registry issued this label. Whether the item was already sold or recalled could not be checked: check again when online.",
        net_offline_invalid: "No network, but the label's signature was checked on this phone and it does not match: the registry did not issue this label. Do not buy it.",
        net_offline_unavailable: "No network: the label could not be checked on this phone. Check again when online.",
        keys_saved: "Keys saved {date}.",
        code_line: "GTIN {gtin}, serial number {serial}",
        camera_start: "Scan with the camera",
        camera_stop: "Stop the camera",
        camera_starting: "Starting the camera…",
        camera_scanning: "Point the camera at the code on the package and hold still…",
        camera_found: "Code read. Opening its check…",
        camera_denied: "The camera is not allowed. Allow it for this site in the browser's settings and try again.",
        camera_none: "No camera was found on this device.",
        camera_unsupported: "This browser cannot use the camera here (it needs a secure https connection).",
        camera_failed: "The camera could not start: {error}",
        camera_server: "The registry did not answer ({status}). Still trying…",
        photo_reading: "Reading the photo…",
        photo_none: "No code could be read in this photo. Take it closer, sharper and in good light, with the whole code in the picture.",
        photo_bad: "This file cannot be read: choose a JPEG or PNG photo of at most 8 MB.",
        camera_slow: "Too many pictures at once. Slowing down…",
        camera_network: "No network: the code cannot be read now.",
        camera_stopped: "Camera stopped.",
        complaint_sending: "Sending…",
        complaint_sent: "Sent. Your report number is {id}.",
        complaint_error: "Not sent: {detail}",
        complaint_too_many: "Not sent: too many reports from your connection. Try again later.",
        complaint_network: "Not sent: no network. Try again when online.",
        complaint_text_empty: "Describe what happened.",
        complaint_locating: "Getting your location…",
        complaint_no_location: "Your location is not available; the report is sent without it.",
        complaint_photo_bad: "This photo could not be read. Choose another or send the report without it.",
    },
};

/// Russian.
pub static RU: Strings = Strings {
    name: "Русский",
    site: "Tracemark",
    tagline: "Проверка маркировки",
    skip: "Перейти к результату",
    verdicts: Verdicts {
        genuine: VerdictText {
            headline: "Подлинный товар",
            explain: "Код выпущен реестром, подпись этикетки верна, товар в обороте: его можно продавать.",
            steps: &[
                "Сверьте название и производителя ниже с упаковкой.",
                "Сохраните чек после покупки.",
                "Если что-то не так с самим товаром, сообщите об этом ниже.",
            ],
            icon_label: "Галочка: подлинный",
        },
        sold: VerdictText {
            headline: "Уже продан",
            explain: "Код подлинный, но по данным реестра этот товар уже продан покупателю.",
            steps: &[
                "Если вы купили этот товар и проверяете его дома, всё в порядке.",
                "Если вы покупаете его сейчас в магазине, код уже был продан: этикетку могли скопировать с другой упаковки. Не покупайте товар и сообщите об этом ниже.",
            ],
            icon_label: "Сведения: продан",
        },
        not_in_circulation: VerdictText {
            headline: "Не в обороте",
            explain: "Код существует, но товар не введён в оборот (или выведен из него): продавать его нельзя.",
            steps: &[
                "Не покупайте товар.",
                "Если вы видели его в продаже, сообщите об этом ниже и укажите магазин.",
            ],
            icon_label: "Сведения: не в обороте",
        },
        unverified: VerdictText {
            headline: "Не проверено",
            explain: "Код есть в реестре, но проверен без криптографической подписи этикетки. Номер сам по себе ничего не доказывает: его может переписать кто угодно.",
            steps: &[
                "Отсканируйте код на этикетке камерой (кнопка ниже), чтобы проверить его полностью.",
                "Если на этикетке нет кода для сканирования, попросите в магазине другой экземпляр.",
            ],
            icon_label: "Сведения: не проверено",
        },
        recalled: VerdictText {
            headline: "Отозван",
            explain: "Код подлинный, но контролирующий орган заблокировал или отозвал этот товар.",
            steps: &[
                "Не покупайте и не используйте товар.",
                "Если вы его уже купили, перестаньте им пользоваться и верните в магазин с чеком.",
                "Если товар продаётся, сообщите об этом ниже.",
            ],
            icon_label: "Предупреждение: отозван",
        },
        expired: VerdictText {
            headline: "Срок годности истёк",
            explain: "Код подлинный, но срок годности товара прошёл.",
            steps: &[
                "Не покупайте и не используйте товар.",
                "Если он продаётся, сообщите об этом ниже и укажите магазин.",
                "Если вы его уже купили, верните в магазин с чеком.",
            ],
            icon_label: "Предупреждение: срок годности истёк",
        },
        unknown: VerdictText {
            headline: "Неизвестный код",
            explain: "Реестр не выпускал такой код. Скорее всего, этикетка поддельная.",
            steps: &[
                "Не покупайте товар.",
                "Если вы его уже купили, сохраните товар и чек.",
                "Сообщите об этом ниже: укажите, где вы его видели.",
            ],
            icon_label: "Предупреждение: неизвестный код",
        },
        forged: VerdictText {
            headline: "Поддельная этикетка",
            explain: "Такой номер существует, но криптографическая подпись на этикетке не та, что выдал реестр: этикетку изготовил кто-то другой.",
            steps: &[
                "Не покупайте товар.",
                "Если вы его уже купили, сохраните чек и товар.",
                "Сообщите об этом ниже: контролирующий орган проверит магазин.",
            ],
            icon_label: "Предупреждение: подделка",
        },
        malformed: VerdictText {
            headline: "Код с ошибкой",
            explain: "Это не корректный код маркировки, поэтому проверить его нельзя.",
            steps: &[
                "Если вы вводили номер вручную, сверьте его с этикеткой и попробуйте снова.",
                "Если вы сканировали этикетку, она повреждена или поддельная: не покупайте товар и сообщите об этом ниже.",
            ],
            icon_label: "Предупреждение: код с ошибкой",
        },
        offline: VerdictText {
            headline: "Нет сети",
            explain: "Реестр недоступен, поэтому неизвестно, продан ли товар и не отозван ли он. Подпись этикетки проверяется ниже на этом телефоне.",
            steps: &[
                "Проверьте ещё раз, когда появится сеть.",
                "Если подпись ниже не совпадает, не покупайте товар.",
            ],
            icon_label: "Сведения: нет сети",
        },
    },
    product_heading: "Товар",
    product_name: "Название",
    brand: "Марка",
    group: "Товарная группа",
    gtin: "GTIN",
    serial: "Серийный номер",
    producer: "Производитель",
    tin: "ИНН",
    production_date: "Дата производства",
    expiry_date: "Годен до",
    sold_at: "Продан",
    checked_at: "Проверено",
    code: "Код",
    next_heading: "Что делать дальше",
    offline_heading: "Проверка подписи на телефоне",
    offline_nojs: "Для этой проверки нужен JavaScript; для результата выше — нет.",
    scan_heading: "Проверить другой товар",
    scan_title: "Проверьте маркированный товар",
    scan_intro: "Наведите камеру телефона на код Data Matrix или QR на упаковке. Страница прочитает его и покажет, подлинный ли товар. Приложение не нужно.",
    scan_privacy: "Снимки с камеры передаются в реестр только для того, чтобы прочитать код.",
    camera_button: "Сканировать камерой",
    camera_video: "Изображение с камеры",
    camera_nojs: "Для сканирования на странице нужен JavaScript. QR-код можно открыть и обычным приложением камеры телефона.",
    photo_button: "Или выберите фото кода",
    complaint_heading: "Сообщить о нарушении",
    complaint_intro: "Сообщение получит контролирующий орган. Мы не спрашиваем ваше имя.",
    complaint_kind: "Что не так",
    complaint_kinds: [
        ("counterfeit", "Похоже на подделку"),
        ("expired", "Истёк срок годности"),
        ("sold_twice", "Код уже продан"),
        ("no_marking", "Нет маркировки или она не читается"),
        ("price", "Цена выше максимальной"),
        ("other", "Другое"),
    ],
    complaint_text: "Что произошло",
    complaint_text_hint: "До 2000 знаков.",
    complaint_shop: "Магазин: название и адрес",
    complaint_shop_hint: "Необязательно.",
    complaint_photo: "Фото",
    complaint_photo_hint: "Необязательно. Перед отправкой уменьшается на телефоне.",
    complaint_location: "Добавить к сообщению моё местоположение",
    complaint_location_hint: "Необязательно: поможет найти магазин. Передаётся, только если отметить.",
    complaint_submit: "Отправить сообщение",
    complaint_nojs: "Для отправки сообщения нужен JavaScript.",
    footer: "Tracemark — национальный реестр маркированных товаров.",
    footer_keys: "Открытые ключи",
    footer_scan: "Сканировать код",
    fault: FaultText {
        check_digit: "Последняя цифра {field} должна быть {expected}, а на этикетке {found}: номер набран с ошибкой или этикетка поддельная.",
        length: "В поле «{field}» {len} знаков, а должно быть {expected}.",
        range: "от {min} до {max}",
        character: "В поле «{field}» недопустимый символ: «{ch}».",
        unknown_ai: "В коде есть неизвестная часть ({ai}).",
        empty: "Код пустой.",
        date: "{value} в поле «{field}» — несуществующая дата.",
        duplicate: "Поле «{field}» встречается в коде дважды.",
        format: "Это не код маркировки: в нём должны быть GTIN (01) и серийный номер (21).",
        field_gtin: "GTIN",
        field_serial: "серийный номер",
        field_sscc: "SSCC",
        field_kid: "номер ключа (91)",
        field_sig: "подпись (92)",
        field_short: "короткая подпись (93)",
        field_other: "часть ({ai})",
        field_link: "ссылка",
        technical: "Техническая подробность",
    },
    months: [
        "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
        "октября", "ноября", "декабря",
    ],
    utc: "UTC",
    board: &BOARD_RU,
    js: JsStrings {
        offline_pending: "Проверяем подпись этикетки на этом телефоне…",
        offline_valid: "Подпись этикетки подлинная: этикетку выпустил реестр (ключ {kid}). Проверено на этом телефоне.",
        offline_invalid: "Подпись этикетки не совпадает: реестр эту этикетку не выпускал.",
        offline_unknown_key: "На этикетке указан ключ ({kid}), который реестр не публиковал: реестр эту этикетку не выпускал.",
        offline_key_not_saved: "Ключа этикетки ({kid}) нет среди сохранённых на телефоне. Проверьте ещё раз, когда появится сеть.",
        offline_mac: "Подпись этой этикетки может проверить только реестр, на телефоне её не проверить.",
        offline_no_tail: "В коде нет подписи: на телефоне проверять нечего.",
        offline_no_crypto: "Этот браузер не умеет проверять подписи Ed25519.",
        offline_no_keys: "Ключей реестра на телефоне ещё нет: проверьте любой код, пока есть сеть.",
        net_offline_valid: "Нет сети: подпись этикетки проверена на этом телефоне, она подлинная — этикетку выпустил реестр. Продан ли товар и не отозван ли он, проверить не удалось: проверьте ещё раз, когда появится сеть.",
        net_offline_invalid: "Нет сети, но подпись этикетки проверена на этом телефоне и не совпадает: реестр эту этикетку не выпускал. Не покупайте товар.",
        net_offline_unavailable: "Нет сети: проверить этикетку на телефоне не удалось. Проверьте ещё раз, когда появится сеть.",
        keys_saved: "Ключи сохранены {date}.",
        code_line: "GTIN {gtin}, серийный номер {serial}",
        camera_start: "Сканировать камерой",
        camera_stop: "Остановить камеру",
        camera_starting: "Включаем камеру…",
        camera_scanning: "Наведите камеру на код на упаковке и держите неподвижно…",
        camera_found: "Код прочитан. Открываем проверку…",
        camera_denied: "Доступ к камере запрещён. Разрешите камеру для этого сайта в настройках браузера и попробуйте снова.",
        camera_none: "На этом устройстве нет камеры.",
        camera_unsupported: "Этот браузер не может использовать камеру здесь (нужно защищённое соединение https).",
        camera_failed: "Камера не включилась: {error}",
        camera_server: "Реестр не ответил ({status}). Пробуем ещё…",
        photo_reading: "Читаем фото…",
        photo_none: "На этом фото не удалось прочитать код. Снимите ближе, резче и при хорошем свете, чтобы код был виден целиком.",
        photo_bad: "Этот файл не прочитать: выберите фото JPEG или PNG не больше 8 МБ.",
        camera_slow: "Слишком много снимков сразу. Замедляемся…",
        camera_network: "Нет сети: прочитать код сейчас нельзя.",
        camera_stopped: "Камера остановлена.",
        complaint_sending: "Отправляем…",
        complaint_sent: "Отправлено. Номер вашего сообщения: {id}.",
        complaint_error: "Не отправлено: {detail}",
        complaint_too_many: "Не отправлено: слишком много сообщений с вашего подключения. Попробуйте позже.",
        complaint_network: "Не отправлено: нет сети. Попробуйте, когда сеть появится.",
        complaint_text_empty: "Опишите, что произошло.",
        complaint_locating: "Определяем местоположение…",
        complaint_no_location: "Местоположение недоступно; сообщение отправлено без него.",
        complaint_photo_bad: "Это фото не удалось прочитать. Выберите другое или отправьте сообщение без него.",
    },
};

/// The words of the alert kinds (the risk engine's `kind`).
#[derive(Debug, Serialize)]
pub struct AlertKinds {
    /// A code sold twice.
    pub repeat_sale: &'static str,
    /// Sold by a shop that never received it.
    pub grey_sale: &'static str,
    /// Sold before it was introduced into circulation.
    pub not_introduced_sale: &'static str,
    /// A label's crypto tail failed.
    pub forged_tail: &'static str,
    /// One label scanned far apart at nearly the same time.
    pub clone_scans: &'static str,
    /// A shop sold more than it received.
    pub sales_exceed_receipts: &'static str,
    /// Sold past its expiry date.
    pub expired_sale: &'static str,
    /// Sold while recalled.
    pub recalled_sale: &'static str,
    /// Sold without the till's check.
    pub unchecked_sale: &'static str,
    /// Many complaints about one shop.
    pub complaint_cluster: &'static str,
    /// Sold before expiry by its receipt, reported after it (late or backdated).
    pub late_sale: &'static str,
}

/// The words of the complaint kinds (the registry's `KINDS`).
#[derive(Debug, Serialize)]
pub struct ComplaintKinds {
    /// Counterfeit.
    pub counterfeit: &'static str,
    /// Expired.
    pub expired: &'static str,
    /// Sold twice.
    pub sold_twice: &'static str,
    /// No marking.
    pub no_marking: &'static str,
    /// Price.
    pub price: &'static str,
    /// Other.
    pub other: &'static str,
}

/// Every word of the regulator's dashboard (`/dashboard`) and the business cabinet
/// (`/cabinet`). The template reads it, and the script gets all of it as JSON in the
/// page (`#page-data`, key `strings`): one table for both, so neither can say a word
/// the other language lacks. Placeholders are `{name}`.
#[derive(Debug, Serialize)]
pub struct BoardStrings {
    /// The dashboard's title.
    pub dashboard_title: &'static str,
    /// The cabinet's title.
    pub cabinet_title: &'static str,
    /// Without JavaScript.
    pub nojs: &'static str,
    /// Sign-in heading.
    pub signin_heading: &'static str,
    /// What signing in takes.
    pub signin_intro: &'static str,
    /// TIN label.
    pub signin_tin: &'static str,
    /// Secret key label.
    pub signin_key: &'static str,
    /// Secret key hint.
    pub signin_key_hint: &'static str,
    /// Key file label.
    pub signin_file: &'static str,
    /// Where the key goes (nowhere).
    pub signin_privacy: &'static str,
    /// Submit.
    pub signin_submit: &'static str,
    /// Under way.
    pub signin_busy: &'static str,
    /// Failed: `{reason}`.
    pub signin_failed: &'static str,
    /// The key is not a seed.
    pub signin_bad_key: &'static str,
    /// No TIN.
    pub signin_no_tin: &'static str,
    /// The browser cannot sign.
    pub signin_no_webcrypto: &'static str,
    /// The session ended.
    pub signin_expired: &'static str,
    /// `{name}`, `{tin}`.
    pub signed_in_as: &'static str,
    /// Sign out.
    pub signout: &'static str,
    /// The dashboard opened by a business.
    pub not_regulator: &'static str,
    /// Link to the cabinet.
    pub to_cabinet: &'static str,
    /// Status: polling works.
    pub live: &'static str,
    /// Status: polling fails.
    pub offline: &'static str,
    /// Status: before the first answer.
    pub connecting: &'static str,
    /// `{time}` of the last update.
    pub updated: &'static str,
    /// Units (a column, an axis).
    pub units: &'static str,
    /// Total.
    pub total: &'static str,
    /// `{units}` in `{periods}` periods, peak `{max}` at `{key}`.
    pub chart_summary: &'static str,
    /// A chart with no rows.
    pub no_data: &'static str,
    /// A section the server cannot answer: `{reason}`.
    pub unavailable: &'static str,
    /// Show the numbers of a chart.
    pub show_table: &'static str,
    /// Sales by hour heading.
    pub sales_hour_heading: &'static str,
    /// Sales by day heading.
    pub sales_day_heading: &'static str,
    /// Time column.
    pub col_period: &'static str,
    /// Region map heading.
    pub map_heading: &'static str,
    /// The map's text alternative.
    pub map_alt: &'static str,
    /// One dot: `{region}`, `{units}`.
    pub map_dot: &'static str,
    /// Region column.
    pub col_region: &'static str,
    /// Sales column.
    pub col_sales: &'static str,
    /// Stock column.
    pub col_stock: &'static str,
    /// Sort button: `{col}`.
    pub sort_by: &'static str,
    /// Product groups heading.
    pub groups_heading: &'static str,
    /// Product group column.
    pub col_group: &'static str,
    /// Alerts heading.
    pub alerts_heading: &'static str,
    /// No alerts.
    pub alerts_empty: &'static str,
    /// Severity words.
    pub sev_high: &'static str,
    /// Medium.
    pub sev_medium: &'static str,
    /// Low.
    pub sev_low: &'static str,
    /// Participant.
    pub alert_participant: &'static str,
    /// What it is about.
    pub alert_subject: &'static str,
    /// Codes.
    pub alert_codes: &'static str,
    /// Documents.
    pub alert_documents: &'static str,
    /// Signals counted.
    pub alert_count: &'static str,
    /// Opened.
    pub alert_opened: &'static str,
    /// Last signal.
    pub alert_updated: &'static str,
    /// Acknowledged by `{by}`.
    pub alert_acknowledged: &'static str,
    /// Other evidence.
    pub alert_details: &'static str,
    /// `+{n} more`.
    pub more: &'static str,
    /// Subject types: participant.
    pub subject_participant: &'static str,
    /// An anonymous client.
    pub subject_client: &'static str,
    /// A code.
    pub subject_code: &'static str,
    /// Alert kinds.
    pub kinds: AlertKinds,
    /// Complaints heading.
    pub complaints_heading: &'static str,
    /// No complaints.
    pub complaints_empty: &'static str,
    /// Complaint kinds.
    pub complaint_kinds: ComplaintKinds,
    /// The shop in the shopper's words.
    pub complaint_shop: &'static str,
    /// The code complained about.
    pub complaint_code: &'static str,
    /// The verdict then.
    pub complaint_verdict: &'static str,
    /// Recalls heading.
    pub recalls_heading: &'static str,
    /// No recalls.
    pub recalls_empty: &'static str,
    /// `{n}` codes one by one.
    pub recall_codes: &'static str,
    /// The whole GTIN `{gtin}`.
    pub recall_gtin: &'static str,
    /// Batch `{batch}`.
    pub recall_batch: &'static str,
    /// Lifted at `{time}`.
    pub recall_lifted: &'static str,
    /// Riskiest participants heading.
    pub risk_heading: &'static str,
    /// Nobody at risk.
    pub risk_empty: &'static str,
    /// Score: `{score}`.
    pub risk_score: &'static str,
    /// One reason: `{kind}`, `{alerts}`, `{signals}`, `{points}`.
    pub risk_reason: &'static str,
    /// Stock heading.
    pub stock_heading: &'static str,
    /// Stock by GTIN.
    pub stock_gtin_heading: &'static str,
    /// Stock by product group.
    pub stock_group_heading: &'static str,
    /// GTIN column.
    pub col_gtin: &'static str,
    /// Shipments heading.
    pub flows_heading: &'static str,
    /// From column.
    pub col_from: &'static str,
    /// To column.
    pub col_to: &'static str,
    /// Own sales by GTIN.
    pub sales_gtin_heading: &'static str,
    /// Where a producer's goods are and sell.
    pub where_heading: &'static str,
    /// By shop.
    pub shops_heading: &'static str,
    /// Shop column.
    pub col_shop: &'static str,
}

/// The boards in English.
pub static BOARD_EN: BoardStrings = BoardStrings {
    dashboard_title: "Regulator's dashboard",
    cabinet_title: "Business cabinet",
    nojs: "This page needs JavaScript: it signs you in and reads the registry live.",
    signin_heading: "Sign in",
    signin_intro: "Your taxpayer number and your Ed25519 secret key (base64 of the 32-byte seed), pasted or chosen as a file.",
    signin_tin: "Taxpayer number (TIN)",
    signin_key: "Secret key",
    signin_key_hint: "44 characters of base64.",
    signin_file: "…or the key file",
    signin_privacy: "The key never leaves this page: the browser signs the registry's challenge and only the signature is sent.",
    signin_submit: "Sign in",
    signin_busy: "Signing in…",
    signin_failed: "Sign-in failed: {reason}",
    signin_bad_key: "This is not a secret key: expected base64 of 32 bytes.",
    signin_no_tin: "Enter the taxpayer number.",
    signin_no_webcrypto: "This browser cannot sign with Ed25519; use a current Chromium, Firefox or Safari.",
    signin_expired: "The session has ended; sign in again.",
    signed_in_as: "{name} · TIN {tin}",
    signout: "Sign out",
    not_regulator: "This dashboard is for regulators. A business sees its own goods in the cabinet.",
    to_cabinet: "Open the cabinet",
    live: "Live",
    offline: "Offline, retrying",
    connecting: "Connecting…",
    updated: "updated {time}",
    units: "units",
    total: "Total",
    chart_summary: "{units} units in {periods} periods; the most, {max}, in {key}.",
    no_data: "No data yet.",
    unavailable: "Not available: {reason}",
    show_table: "Numbers",
    sales_hour_heading: "Sales by hour, last 48 hours",
    sales_day_heading: "Sales by day, last 30 days",
    col_period: "Period",
    map_heading: "Regions",
    map_alt: "Map of Russia's regions; each dot is a region's centre, its size the units sold.",
    map_dot: "{region}: {units} units sold",
    col_region: "Region",
    col_sales: "Sales",
    col_stock: "Stock",
    sort_by: "Sort by {col}",
    groups_heading: "Product groups",
    col_group: "Product group",
    alerts_heading: "Alerts",
    alerts_empty: "No alerts.",
    sev_high: "High",
    sev_medium: "Medium",
    sev_low: "Low",
    alert_participant: "Participant",
    alert_subject: "About",
    alert_codes: "Codes",
    alert_documents: "Documents",
    alert_count: "Signals",
    alert_opened: "Opened",
    alert_updated: "Last signal",
    alert_acknowledged: "Acknowledged by {by}",
    alert_details: "Other evidence",
    more: "+{n} more",
    subject_participant: "participant",
    subject_client: "anonymous client",
    subject_code: "code",
    kinds: AlertKinds {
        repeat_sale: "Sold twice",
        grey_sale: "Grey sale: never received",
        not_introduced_sale: "Sold before introduction",
        forged_tail: "Forged label tails",
        clone_scans: "Cloned label scans",
        sales_exceed_receipts: "Sales beyond receipts",
        expired_sale: "Expired goods sold",
        recalled_sale: "Recalled goods sold",
        unchecked_sale: "Sold without the till check",
        complaint_cluster: "Complaint cluster",
        late_sale: "Expired by the time the sale was reported",
    },
    complaints_heading: "Complaints",
    complaints_empty: "No complaints.",
    complaint_kinds: ComplaintKinds {
        counterfeit: "Counterfeit",
        expired: "Expired",
        sold_twice: "Sold twice",
        no_marking: "No marking",
        price: "Price",
        other: "Other",
    },
    complaint_shop: "Shop",
    complaint_code: "Code",
    complaint_verdict: "Verdict then",
    recalls_heading: "Recalls and blocks",
    recalls_empty: "No recalls.",
    recall_codes: "{n} codes",
    recall_gtin: "GTIN {gtin}",
    recall_batch: "batch {batch}",
    recall_lifted: "lifted {time}",
    risk_heading: "Riskiest participants",
    risk_empty: "Nobody has a risk score.",
    risk_score: "score {score}",
    risk_reason: "{kind}: {alerts} alerts, {signals} signals, {points} points",
    stock_heading: "Stock",
    stock_gtin_heading: "Stock by GTIN",
    stock_group_heading: "Stock by product group",
    col_gtin: "GTIN",
    flows_heading: "Shipments between regions",
    col_from: "From",
    col_to: "To",
    sales_gtin_heading: "Sales by GTIN",
    where_heading: "Where your goods are and sell",
    shops_heading: "By shop",
    col_shop: "Shop (TIN)",
};

/// The boards in Russian.
pub static BOARD_RU: BoardStrings = BoardStrings {
    dashboard_title: "Панель регулятора",
    cabinet_title: "Кабинет участника",
    nojs: "Для этой страницы нужен JavaScript: он выполняет вход и читает реестр в реальном времени.",
    signin_heading: "Вход",
    signin_intro: "ИНН и секретный ключ Ed25519 (base64 от 32-байтного seed): вставьте его или выберите файл.",
    signin_tin: "ИНН",
    signin_key: "Секретный ключ",
    signin_key_hint: "44 символа base64.",
    signin_file: "…или файл ключа",
    signin_privacy: "Ключ не покидает страницу: браузер подписывает вызов реестра, отправляется только подпись.",
    signin_submit: "Войти",
    signin_busy: "Выполняем вход…",
    signin_failed: "Войти не удалось: {reason}",
    signin_bad_key: "Это не секретный ключ: нужен base64 от 32 байт.",
    signin_no_tin: "Введите ИНН.",
    signin_no_webcrypto: "Этот браузер не умеет подписывать Ed25519; используйте свежий Chromium, Firefox или Safari.",
    signin_expired: "Сеанс закончился; войдите снова.",
    signed_in_as: "{name} · ИНН {tin}",
    signout: "Выйти",
    not_regulator: "Эта панель — для регуляторов. Участник видит свои товары в кабинете.",
    to_cabinet: "Открыть кабинет",
    live: "В эфире",
    offline: "Нет связи, повторяем",
    connecting: "Подключаемся…",
    updated: "обновлено {time}",
    units: "шт.",
    total: "Всего",
    chart_summary: "{units} шт. за {periods} периодов; больше всего, {max}, — {key}.",
    no_data: "Данных пока нет.",
    unavailable: "Недоступно: {reason}",
    show_table: "Числа",
    sales_hour_heading: "Продажи по часам, последние 48 часов",
    sales_day_heading: "Продажи по дням, последние 30 дней",
    col_period: "Период",
    map_heading: "Регионы",
    map_alt: "Карта регионов России; точка — центр региона, её размер — число проданных единиц.",
    map_dot: "{region}: продано {units} шт.",
    col_region: "Регион",
    col_sales: "Продажи",
    col_stock: "Остатки",
    sort_by: "Сортировать по столбцу «{col}»",
    groups_heading: "Товарные группы",
    col_group: "Товарная группа",
    alerts_heading: "Сигналы",
    alerts_empty: "Сигналов нет.",
    sev_high: "Высокая",
    sev_medium: "Средняя",
    sev_low: "Низкая",
    alert_participant: "Участник",
    alert_subject: "Объект",
    alert_codes: "Коды",
    alert_documents: "Документы",
    alert_count: "Сигналов",
    alert_opened: "Открыт",
    alert_updated: "Последний сигнал",
    alert_acknowledged: "Принят: {by}",
    alert_details: "Другие доказательства",
    more: "ещё {n}",
    subject_participant: "участник",
    subject_client: "анонимный клиент",
    subject_code: "код",
    kinds: AlertKinds {
        repeat_sale: "Повторная продажа",
        grey_sale: "Серая продажа: товар не поступал",
        not_introduced_sale: "Продажа до ввода в оборот",
        forged_tail: "Поддельные криптохвосты",
        clone_scans: "Клонированная этикетка",
        sales_exceed_receipts: "Продано больше, чем получено",
        expired_sale: "Продажа просроченного",
        recalled_sale: "Продажа отозванного",
        unchecked_sale: "Продажа без проверки на кассе",
        complaint_cluster: "Серия жалоб",
        late_sale: "Продажа передана после истечения срока годности",
    },
    complaints_heading: "Жалобы",
    complaints_empty: "Жалоб нет.",
    complaint_kinds: ComplaintKinds {
        counterfeit: "Подделка",
        expired: "Просрочено",
        sold_twice: "Продано дважды",
        no_marking: "Нет маркировки",
        price: "Цена",
        other: "Другое",
    },
    complaint_shop: "Магазин",
    complaint_code: "Код",
    complaint_verdict: "Статус тогда",
    recalls_heading: "Отзывы и блокировки",
    recalls_empty: "Отзывов нет.",
    recall_codes: "кодов: {n}",
    recall_gtin: "GTIN {gtin}",
    recall_batch: "партия {batch}",
    recall_lifted: "снята {time}",
    risk_heading: "Самые рискованные участники",
    risk_empty: "Ни у кого нет оценки риска.",
    risk_score: "оценка {score}",
    risk_reason: "{kind}: сигналов {alerts}, фактов {signals}, баллов {points}",
    stock_heading: "Остатки",
    stock_gtin_heading: "Остатки по GTIN",
    stock_group_heading: "Остатки по товарным группам",
    col_gtin: "GTIN",
    flows_heading: "Поставки между регионами",
    col_from: "Откуда",
    col_to: "Куда",
    sales_gtin_heading: "Продажи по GTIN",
    where_heading: "Где ваши товары лежат и продаются",
    shops_heading: "По магазинам",
    col_shop: "Магазин (ИНН)",
};
