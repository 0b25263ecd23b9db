//! Identifier normalisation of the CBV 2.0 event hash: every URI that carries a GS1 key
//! (EPC URI, EPC class URI, EPC ID pattern URI, GS1 Digital Link URI) becomes one
//! constrained canonical GS1 Digital Link URI (`https://id.gs1.org/…`) with the finest
//! identification level only and no CPV or query string.
//!
//! A port of the reference implementation's `dl_normaliser.py` (commit 5d2f1c3): its
//! regular expressions are taken verbatim so that what it accepts and rejects stays the same.

use regex::Regex;
use std::sync::LazyLock;

/// The reference normaliser's regular expressions in its order, each anchored at the start
/// as Python's `re.match` is (`P_*` name the indices).
const PATTERNS: [&str; 56] = [
    r#"^(?:^urn:epc:id:sgtin:((\d{6}\.\d{7})|(\d{7}\.\d{6})|(\d{8}\.\d{5})|(\d{9}\.\d{4})|(\d{10}\.\d{3})|(\d{11}\.\d{2})|(\d{12}\.\d{1}))\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,20}$)"#,
    r#"^(?:^urn:epc:id:sscc:((\d{6}\.\d{11}$)|(\d{7}\.\d{10}$)|(\d{8}\.\d{9}$)|(\d{9}\.\d{8}$)|(\d{10}\.\d{7}$)|(\d{11}\.\d{6}$)|(\d{12}\.\d{5}$)))"#,
    r#"^(?:^urn:epc:id:sgln:((\d{6}\.\d{6})|(\d{7}\.\d{5})|(\d{8}\.\d{4})|(\d{9}\.\d{3})|(\d{10}\.\d{2})|(\d{11}\.\d{1})|(\d{12}\.))\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,20}$)"#,
    r#"^(?:^urn:epc:id:grai:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.\.))\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,16}$)"#,
    r#"^(?:^urn:epc:id:giai:(([\d]{6}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,24})|([\d]{7}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,23})|([\d]{8}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,22})|([\d]{9}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,21})|([\d]{10}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,20})|([\d]{11}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,19})|([\d]{12}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,18}))$)"#,
    r#"^(?:^urn:epc:id:gsrn:(([\d]{6}\.[\d]{11}$)|([\d]{7}\.[\d]{10}$)|([\d]{8}\.[\d]{9}$)|([\d]{9}\.[\d]{8}$)|([\d]{10}\.[\d]{7}$)|([\d]{11}\.[\d]{6}$)|([\d]{12}\.[\d]{5}$)))"#,
    r#"^(?:^urn:epc:id:gsrnp:(([\d]{6}\.[\d]{11}$)|([\d]{7}\.[\d]{10}$)|([\d]{8}\.[\d]{9}$)|([\d]{9}\.[\d]{8}$)|([\d]{10}\.[\d]{7}$)|([\d]{11}\.[\d]{6}$)|([\d]{12}\.[\d]{5}$)))"#,
    r#"^(?:^urn:epc:id:gdti:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.\.))(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,20}$)"#,
    r#"^(?:^urn:epc:id:cpi:((\d{6}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,24})|(\d{7}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,23})|(\d{8}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,22})|(\d{9}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,21})|(\d{10}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,20})|(\d{11}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,19})|(\d{12}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,18}))\.[\d]{1,12}$)"#,
    r#"^(?:^urn:epc:id:sgcn:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.))\.[\d]{1,12}$)"#,
    r#"^(?:^urn:epc:id:ginc:([\d]{6}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,24}|[\d]{7}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,23}|[\d]{8}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,22}|[\d]{9}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,21}|[\d]{10}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,20}|[\d]{11}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,19}|[\d]{12}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,18})$)"#,
    r#"^(?:^urn:epc:id:gsin:(([\d]{6}\.[\d]{10}$)|([\d]{7}\.[\d]{9}$)|([\d]{8}\.[\d]{8}$)|([\d]{9}\.[\d]{7}$)|([\d]{10}\.[\d]{6}$)|([\d]{11}\.[\d]{5}$)|([\d]{12}\.[\d]{4}$)))"#,
    r#"^(?:^urn:epc:id:itip:(([\d]{6}\.[\d]{7})|([\d]{7}\.[\d]{6})|([\d]{8}\.[\d]{5})|([\d]{9}\.[\d]{4})|([\d]{10}\.[\d]{3})|([\d]{11}\.[\d]{2})|([\d]{12}\.[\d]{1}))\.[\d]{2}\.[\d]{2}\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,20}$)"#,
    r#"^(?:^urn:epc:id:upui:((\d{6}\.\d{7})|(\d{7}\.\d{6})|(\d{8}\.\d{5})|(\d{9}\.\d{4})|(\d{10}\.\d{3})|(\d{11}\.\d{2})|(\d{12}\.\d{1}))\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,28}$)"#,
    r#"^(?:^urn:epc:id:pgln:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.))$)"#,
    r#"^(?:^urn:epc:class:lgtin:(([\d]{6}\.[\d]{7})|([\d]{7}\.[\d]{6})|([\d]{8}\.[\d]{5})|([\d]{9}\.[\d]{4})|([\d]{10}\.[\d]{3})|([\d]{11}\.[\d]{2})|([\d]{12}\.[\d]{1}))\.(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-]){1,20}$)"#,
    r#"^(?:^urn:epc:idpat:sgtin:((\d{6}\.\d{7})|(\d{7}\.\d{6})|(\d{8}\.\d{5})|(\d{9}\.\d{4})|(\d{10}\.\d{3})|(\d{11}\.\d{2})|(\d{12}\.\d{1}))\.\*$)"#,
    r#"^(?:^urn:epc:idpat:grai:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.\.))\.\*$)"#,
    r#"^(?:^urn:epc:idpat:gdti:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.\.))\.\*$)"#,
    r#"^(?:^urn:epc:idpat:sgcn:(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.\.))\.\*$)"#,
    r#"^(?:^urn:epc:idpat:cpi:((\d{6}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,24})|(\d{7}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,23})|(\d{8}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,22})|(\d{9}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,21})|(\d{10}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,20})|(\d{11}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,19})|(\d{12}\.(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-]){1,18}))\.\*$)"#,
    r#"^(?:^urn:epc:idpat:itip:(([\d]{6}\.[\d]{7})|([\d]{7}\.[\d]{6})|([\d]{8}\.[\d]{5})|([\d]{9}\.[\d]{4})|([\d]{10}\.[\d]{3})|([\d]{11}\.[\d]{2})|([\d]{12}\.[\d]{1}))\.[\d]{2}\.[\d]{2}\.\*$)"#,
    r#"^(?:^urn:epc:idpat:upui:((\d{6}\.\d{7})|(\d{7}\.\d{6})|(\d{8}\.\d{5})|(\d{9}\.\d{4})|(\d{10}\.\d{3})|(\d{11}\.\d{2})|(\d{12}\.\d{1}))\.\*$)"#,
    r#"^(?:^https?:(\/\/((([^\/?#]*)@)?([^\/?#:]*)(:([^\/?#]*))?))?((([^?#]*)(\/(01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai)\/)(\d{4}[^\/]+)(\/[^/]+\/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(\/[A-Za-z_-]{10}$)))"#,
    r#"^(?:^https:\/\/id.gs1.org\/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)\/(\d{4}[^\/]+)(\/[^\/]+\/[^\/]+)?[\/]?(\?([^?\n]*))?(#([^\n]*))?|(\/[A-Za-z_-]{10}$))"#,
    r#"^(?:^https:\/\/id.gs1.org\/01\/\d{14})"#,
    r#"^(?:^https:\/\/id.gs1.org\/01\/\d{13})"#,
    r#"^(?:^https:\/\/id.gs1.org\/01\/\d{12})"#,
    r#"^(?:^https:\/\/id.gs1.org\/01\/\d{8})"#,
    r#"^(?:https:\/\/id.gs1.org\/8006\/\d{18}\/22\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/01\/\d{14}\/22\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8006\/\d{18}\/22\/([\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/01\/\d{14}\/22\/([\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8006\/\d{18}\/10\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})\/21\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/01\/(\d{14})\/10\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})\/21\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/00\/(\d{18})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/01\/(\d{14})\/21\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/01\/(\d{14})\/10\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/01\/(\d{14})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/01\/(\d{14})\/235\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,28})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/253\/(\d{13})([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,17})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/255\/(\d{13})(\d{0,12})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/401\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,30})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/402\/(\d{17})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/414\/(\d{13})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/414\/(\d{13})\/254\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/417\/(\d{13})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8003\/(\d{14})([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,16})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8004\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,30})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8006\/(\d{18})\/21\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8006\/(\d{18})\/10\/([\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8006\/(\d{18})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})\/8011/(\d{0,12})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8017\/(\d{18})$)"#,
    r#"^(?:https:\/\/id.gs1.org\/8018\/(\d{18})$)"#,
];

const P_SGTIN: usize = 0;
const P_SSCC: usize = 1;
const P_SGLN: usize = 2;
const P_GRAI: usize = 3;
const P_GIAI: usize = 4;
const P_GSRN: usize = 5;
const P_GSRNP: usize = 6;
const P_GDTI: usize = 7;
const P_CPI: usize = 8;
const P_SGCN: usize = 9;
const P_GINC: usize = 10;
const P_GSIN: usize = 11;
const P_ITIP: usize = 12;
const P_UPUI: usize = 13;
const P_PGLN: usize = 14;
const P_LGTIN: usize = 15;
const P_PAT_SGTIN: usize = 16;
const P_PAT_GRAI: usize = 17;
const P_PAT_GDTI: usize = 18;
const P_PAT_SGCN: usize = 19;
const P_PAT_CPI: usize = 20;
const P_PAT_ITIP: usize = 21;
const P_PAT_UPUI: usize = 22;
const P_DL: usize = 23;
const P_CANONICAL: usize = 24;
const P_GTIN14: usize = 25;
const P_GTIN13: usize = 26;
const P_GTIN12: usize = 27;
const P_GTIN8: usize = 28;
const P_CPV_8006_END: usize = 29;
const P_CPV_01_END: usize = 30;
const P_CPV_8006_MORE: usize = 31;
const P_CPV_01_MORE: usize = 32;
const P_LOT_SER_8006: usize = 33;
const P_LOT_SER_01: usize = 34;
/// The first of the output syntax checks (they run to the end of [`PATTERNS`]).
const P_VALID_FIRST: usize = 35;

static REGEXES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|p| Regex::new(p).expect("the reference normaliser's patterns compile"))
        .collect()
});

fn is(pattern: usize, s: &str) -> bool {
    REGEXES[pattern].is_match(s)
}

/// Python's `s[a:b]` on an ASCII-checked string, clamped at the ends.
fn sl(s: &str, a: usize, b: usize) -> &str {
    let b = b.min(s.len());
    let a = a.min(b);
    s.get(a..b).unwrap_or("")
}

fn from(s: &str, a: usize) -> &str {
    sl(s, a, s.len())
}

/// Percent-encodes the characters GS1 Digital Link (table 7-1) requires and EPC URIs allow.
fn percent_encode(s: &str) -> String {
    s.replace('!', "%21")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('*', "%2A")
        .replace('+', "%2B")
        .replace(',', "%2C")
        .replace(':', "%3A")
}

/// The GS1 standard check digit (GS1 General Specifications 7.9.1) of a key without it.
fn check_digit(key: &str) -> u32 {
    let sum: u32 = key
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.wrapping_sub(b'0')).min(9);
            if i % 2 == 0 {
                d * 3
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// The GTIN (without its check digit) of an EPC URI's company prefix and item reference.
fn gtin_body(uri: &str, start: usize, partition: usize) -> String {
    let prefix = sl(uri, start, partition);
    let item = sl(
        uri,
        partition + 1,
        partition + 1 + 13usize.saturating_sub(prefix.len()),
    );
    format!("{}{}{}", sl(item, 0, 1), prefix, from(item, 1))
}

/// Company prefix and the reference padding it to 12 digits (GLN, GRAI, GDTI, SGCN).
fn twelve(uri: &str, start: usize, partition: usize) -> String {
    let prefix = sl(uri, start, partition);
    let reference = sl(
        uri,
        partition + 1,
        partition + 1 + 12usize.saturating_sub(prefix.len()),
    );
    format!("{prefix}{reference}")
}

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body))
}

/// GS1 Digital Link's canonical domain, where a constrained canonical URI points.
const DL: &str = "https://id.gs1.org/";

/// The constrained canonical GS1 Digital Link URI of `uri`, or `None` when `uri` carries no
/// GS1 key the normaliser knows.
pub(crate) fn normalise(uri: &str) -> Option<String> {
    if let Some(fast) = fast_path(uri) {
        return Some(fast);
    }
    slow_path(uri)
}

/// [`normalise`] through the reference's regular expressions alone.
fn slow_path(uri: &str) -> Option<String> {
    let partition = uri.find('.')?;
    epc_id(uri, partition)
        .or_else(|| epc_id_more(uri, partition))
        .or_else(|| epc_class_or_pattern(uri, partition))
        .or_else(|| digital_link(uri))
}

/// The two forms nearly every code takes, answered without the 56 expressions (which cost
/// some microseconds a code: most of a capture's reading), exactly as they would be
/// answered (`tests::the_fast_path_answers_as_the_expressions_do` compares the two on
/// millions of generated URIs): a canonical SGTIN Digital Link
/// (`https://id.gs1.org/01/<14 digits>/21/<1 to 20 characters of its set>`) is its own
/// canonical form; an SGTIN EPC URI whose serial holds no `%` becomes one. `None`: not
/// one of those two forms, or not plainly (the expressions decide).
fn fast_path(uri: &str) -> Option<String> {
    if let Some(rest) = uri.strip_prefix("https://id.gs1.org/01/") {
        let (gtin, serial) = (rest.get(..14)?, rest.get(14..)?.strip_prefix("/21/")?);
        let ok = gtin.bytes().all(|b| b.is_ascii_digit())
            && (1..=20).contains(&serial.len())
            && serial.bytes().all(dl_serial_byte);
        return ok.then(|| uri.to_string());
    }
    let rest = uri.strip_prefix("urn:epc:id:sgtin:")?;
    let mut parts = rest.splitn(3, '.');
    let (cp, item, serial) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = (6..=12).contains(&cp.len())
        && cp.len() + item.len() == 13
        && cp.bytes().chain(item.bytes()).all(|b| b.is_ascii_digit())
        && (1..=20).contains(&serial.len())
        && serial.bytes().all(epc_serial_byte);
    if !ok {
        return None;
    }
    let partition = uri.find('.')?;
    let gtin = with_check(&gtin_body(uri, 17, partition));
    Some(format!(
        "{DL}01/{gtin}/21/{}",
        percent_encode(from(uri, 32))
    ))
}

/// A byte of a serial the canonical Digital Link's expression takes:
/// `[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]`, but `?`, which
/// starts the query the normaliser drops.
fn dl_serial_byte(b: u8) -> bool {
    matches!(b, 0x22 | 0x27 | 0x2D | 0x2E | 0x30..=0x39 | 0x3B..=0x3E | 0x41..=0x5A | 0x5F | 0x61..=0x7A)
}

/// A byte of an SGTIN EPC URI's serial written as itself (not `%`-escaped):
/// `[!\')(*+,.0-9:;=A-Za-z_-]`.
fn epc_serial_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!')(*+,.:;=_-".contains(&b)
}

/// EPC URIs: SGTIN, SSCC, SGLN, GRAI, GIAI, GSRN(P), GDTI.
fn epc_id(uri: &str, partition: usize) -> Option<String> {
    let dl = DL;
    if is(P_SGTIN, uri) {
        let gtin = with_check(&gtin_body(uri, 17, partition));
        return Some(format!(
            "{dl}01/{gtin}/21/{}",
            percent_encode(from(uri, 32))
        ));
    }
    if is(P_SSCC, uri) {
        let prefix = sl(uri, 16, partition);
        let serial = from(uri, partition + 2);
        let body = format!("{}{prefix}{serial}", sl(uri, partition + 1, partition + 2));
        return Some(format!("{dl}00/{}", with_check(&body)));
    }
    if is(P_SGLN, uri) {
        let gln = with_check(&twelve(uri, 16, partition));
        let extension = from(uri, 30);
        return Some(if extension == "0" {
            format!("{dl}414/{gln}")
        } else {
            format!("{dl}414/{gln}/254/{}", percent_encode(extension))
        });
    }
    if is(P_GRAI, uri) {
        let grai = with_check(&format!("0{}", twelve(uri, 16, partition)));
        return Some(format!("{dl}8003/{grai}{}", percent_encode(from(uri, 30))));
    }
    if is(P_GIAI, uri) {
        let prefix = sl(uri, 16, partition);
        let asset = from(uri, partition + 1);
        return Some(format!("{dl}8004/{prefix}{}", percent_encode(asset)));
    }
    if is(P_GSRN, uri) || is(P_GSRNP, uri) {
        let (start, ai) = if is(P_GSRN, uri) {
            (16, "8018")
        } else {
            (17, "8017")
        };
        let body = format!("{}{}", sl(uri, start, partition), from(uri, partition + 1));
        return Some(format!("{dl}{ai}/{}", with_check(&body)));
    }
    if is(P_GDTI, uri) {
        let gdti = with_check(&twelve(uri, 16, partition));
        return Some(format!("{dl}253/{gdti}{}", percent_encode(from(uri, 30))));
    }
    None
}

/// EPC URIs: CPI, SGCN, GINC, GSIN, ITIP, UPUI, PGLN.
fn epc_id_more(uri: &str, partition: usize) -> Option<String> {
    let dl = DL;
    if is(P_CPI, uri) {
        let separator = uri.rfind('.').unwrap_or(partition);
        let cpi = format!(
            "{}{}",
            sl(uri, 15, partition),
            sl(uri, partition + 1, separator)
        );
        let serial = from(uri, separator + 1);
        return Some(format!("{dl}8010/{}/8011/{serial}", percent_encode(&cpi)));
    }
    if is(P_SGCN, uri) {
        let sgcn = with_check(&twelve(uri, 16, partition));
        return Some(format!("{dl}255/{sgcn}{}", from(uri, 30)));
    }
    if is(P_GINC, uri) {
        let prefix = sl(uri, 16, partition);
        let reference = from(uri, partition + 1);
        return Some(format!("{dl}401/{prefix}{}", percent_encode(reference)));
    }
    if is(P_GSIN, uri) {
        let body = format!("{}{}", sl(uri, 16, partition), from(uri, partition + 1));
        return Some(format!("{dl}402/{}", with_check(&body)));
    }
    if is(P_ITIP, uri) {
        let gtin = with_check(&gtin_body(uri, 16, partition));
        let (piece, total, serial) = (sl(uri, 31, 33), sl(uri, 34, 36), from(uri, 37));
        return Some(format!(
            "{dl}8006/{gtin}{piece}{total}/21/{}",
            percent_encode(serial)
        ));
    }
    if is(P_UPUI, uri) {
        let gtin = with_check(&gtin_body(uri, 16, partition));
        return Some(format!(
            "{dl}01/{gtin}/235/{}",
            percent_encode(from(uri, 31))
        ));
    }
    if is(P_PGLN, uri) {
        return Some(format!(
            "{dl}417/{}",
            with_check(&twelve(uri, 16, partition))
        ));
    }
    None
}

/// EPC class URIs (LGTIN) and EPC ID pattern URIs.
fn epc_class_or_pattern(uri: &str, partition: usize) -> Option<String> {
    let dl = DL;
    // EPC class URIs
    if is(P_LGTIN, uri) {
        let gtin = with_check(&gtin_body(uri, 20, partition));
        return Some(format!(
            "{dl}01/{gtin}/10/{}",
            percent_encode(from(uri, 35))
        ));
    }
    // EPC ID pattern URIs
    if is(P_PAT_SGTIN, uri) {
        return Some(format!(
            "{dl}01/{}",
            with_check(&gtin_body(uri, 20, partition))
        ));
    }
    if is(P_PAT_GRAI, uri) {
        let grai = with_check(&format!("0{}", twelve(uri, 19, partition)));
        return Some(format!("{dl}8003/{grai}"));
    }
    if is(P_PAT_GDTI, uri) {
        return Some(format!(
            "{dl}253/{}",
            with_check(&twelve(uri, 19, partition))
        ));
    }
    if is(P_PAT_SGCN, uri) {
        return Some(format!(
            "{dl}255/{}",
            with_check(&twelve(uri, 19, partition))
        ));
    }
    if is(P_PAT_CPI, uri) {
        let separator = uri.rfind('.').unwrap_or(partition);
        let cpi = format!(
            "{}{}",
            sl(uri, 18, partition),
            sl(uri, partition + 1, separator)
        );
        return Some(format!("{dl}8010/{}", percent_encode(&cpi)));
    }
    if is(P_PAT_ITIP, uri) {
        let gtin = with_check(&gtin_body(uri, 19, partition));
        return Some(format!(
            "{dl}8006/{gtin}{}{}",
            sl(uri, 34, 36),
            sl(uri, 37, 39)
        ));
    }
    if is(P_PAT_UPUI, uri) {
        return Some(format!(
            "{dl}01/{}",
            with_check(&gtin_body(uri, 19, partition))
        ));
    }
    None
}

/// GS1 Digital Link URIs: short names to AIs, the canonical domain, 14-digit GTINs, then
/// [`finest_level`].
fn digital_link(uri: &str) -> Option<String> {
    if !is(P_DL, uri) {
        return None;
    }
    let mut uri = match uri.find('?') {
        Some(q) => uri[..q].to_string(),
        None => uri.to_string(),
    };
    for (short, ai) in [
        ("/gtin/", "/01/"),
        ("/itip/", "/8006/"),
        ("/cpid/", "/8010/"),
        ("/gln/", "/414/"),
        ("/party/", "/417/"),
        ("/gsrnp/", "/8017/"),
        ("/gsrn/", "/8018/"),
        ("/gcn/", "/255/"),
        ("/sscc/", "/00/"),
        ("/gdti/", "/253/"),
        ("/ginc/", "/401/"),
        ("/gsin/", "/402/"),
        ("/grai/", "/8003/"),
        ("/giai/", "/8004/"),
        ("/cpv/", "/22/"),
        ("/lot/", "/10/"),
        ("/ser/", "/21/"),
    ] {
        uri = uri.replace(short, ai);
    }
    // the canonical domain name
    if !is(P_CANONICAL, &uri) {
        for key in [
            "/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/", "/8003/",
            "/8004/", "/8006/", "/8010/", "/8017/", "/8018/",
        ] {
            if let Some(at) = uri.find(key) {
                uri = format!("https://id.gs1.org{}", &uri[at..]);
                break;
            }
        }
    }
    // every GTIN as 14 digits
    if !is(P_GTIN14, &uri) {
        let pad = if is(P_GTIN13, &uri) {
            "0"
        } else if is(P_GTIN12, &uri) {
            "00"
        } else if is(P_GTIN8, &uri) {
            "000000"
        } else {
            ""
        };
        if !pad.is_empty() {
            uri = uri.replace("/01/", &format!("/01/{pad}"));
        }
    }
    finest_level(uri)
}

/// A Digital Link URI without its CPV and lot where a finer key makes them redundant, if its
/// syntax is then valid.
fn finest_level(mut uri: String) -> Option<String> {
    // without the CPV
    let after_cpv = match uri.find("/22/") {
        Some(at) => uri[at + 4..].to_string(),
        // Python's find gives -1, and -1 + 4 = 3
        None => from(&uri, 3).to_string(),
    };
    let python_find = |s: &str, pat: &str| s.find(pat);
    if is(P_CPV_8006_END, &uri) || is(P_CPV_01_END, &uri) {
        let head = &uri[..python_find(&uri, "/22/").unwrap_or(uri.len())];
        // x[x.find('/'):-1]: with no '/' in x, find gives -1 and the slice is x[-1:-1] = "".
        let tail = match after_cpv.find('/') {
            Some(at) => sl(&after_cpv, at, after_cpv.len().saturating_sub(1)).to_string(),
            None => String::new(),
        };
        uri = format!("{head}{tail}");
    }
    if is(P_CPV_8006_MORE, &uri) || is(P_CPV_01_MORE, &uri) {
        let head = &uri[..python_find(&uri, "/22/").unwrap_or(uri.len())];
        let tail = match after_cpv.find('/') {
            Some(at) => after_cpv[at..].to_string(),
            None => from(&after_cpv, after_cpv.len().saturating_sub(1)).to_string(),
        };
        uri = format!("{head}{tail}");
    }
    // the finest level only (a serial number makes the lot redundant)
    if is(P_LOT_SER_8006, &uri) || is(P_LOT_SER_01, &uri) {
        if let Some(at) = uri.find("/10/") {
            let y = &uri[at + 4..];
            let tail = match y.find('/') {
                Some(slash) => &y[slash..],
                None => from(y, y.len().saturating_sub(1)),
            };
            uri = format!("{}{}", &uri[..at], tail);
        }
    }
    // a valid syntax, else nothing
    (P_VALID_FIRST..PATTERNS.len())
        .any(|p| is(p, &uri))
        .then_some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path answers every URI it answers as the expressions do: generated SGTIN
    /// Digital Links and EPC URIs, near misses included (every byte, every length).
    #[test]
    fn the_fast_path_answers_as_the_expressions_do() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: Vec<u8> = (0x20u8..0x7f).collect();
        let mut answered = 0;
        for i in 0..400_000u64 {
            let r = next();
            let serial_len = (r % 24) as usize;
            let serial: String = (0..serial_len)
                .map(|_| {
                    let x = next();
                    // Mostly plain characters, sometimes any printable one.
                    if x % 4 == 0 {
                        char::from(alphabet[(x as usize / 4) % alphabet.len()])
                    } else {
                        char::from(
                            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._"
                                [(x as usize / 4) % 65],
                        )
                    }
                })
                .collect();
            let digits: String = (0..14)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let uri = if i % 2 == 0 {
                let g = if next() % 16 == 0 {
                    &digits[..13]
                } else {
                    &digits[..]
                };
                format!("https://id.gs1.org/01/{g}/21/{serial}")
            } else {
                let cp = 6 + (next() % 8) as usize;
                let item_len = if next() % 16 == 0 { 14 - cp } else { 13 - cp };
                format!(
                    "urn:epc:id:sgtin:{}.{}.{serial}",
                    &digits[..cp.min(13)],
                    &digits[..item_len.min(14)]
                )
            };
            if let Some(fast) = fast_path(&uri) {
                answered += 1;
                assert_eq!(Some(fast), slow_path(&uri), "{uri}");
            }
        }
        assert!(answered > 100_000, "the fast path took {answered}");
    }

    #[test]
    fn patterns_compile() {
        assert_eq!(REGEXES.len(), PATTERNS.len());
    }

    #[test]
    fn examples() {
        assert_eq!(
            normalise("urn:epc:id:sgtin:0614141.107346.2017").as_deref(),
            Some("https://id.gs1.org/01/10614141073464/21/2017")
        );
        assert_eq!(
            normalise("urn:epc:id:sgln:0614141.07346.1234").as_deref(),
            Some("https://id.gs1.org/414/0614141073467/254/1234")
        );
        assert_eq!(
            normalise("urn:epc:id:sgln:0012345.11111.0").as_deref(),
            Some("https://id.gs1.org/414/0012345111112")
        );
        assert_eq!(
            normalise("https://id.gs1.de/01/04012345999990/21/XYZ-1234").as_deref(),
            Some("https://id.gs1.org/01/04012345999990/21/XYZ-1234")
        );
        assert_eq!(normalise("shipping"), None);
    }
}
