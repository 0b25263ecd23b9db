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
