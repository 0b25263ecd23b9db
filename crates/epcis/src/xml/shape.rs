//! What the document's markup costs the parser, counted before it runs: roxmltree's work
//! grows with the square of an element's attributes (its duplicate check) and of the
//! namespace declarations in scope (it copies them to each element that declares one and
//! looks each prefix up among them), so both are bounded, with the nesting depth.

use super::{XmlError, MAX_XML_ATTRIBUTES, MAX_XML_DEPTH, MAX_XML_NAMESPACES};

/// One start tag, as scanned.
#[derive(Default)]
struct Tag {
    /// Just after its `>`.
    end: usize,
    /// Its attributes, namespace declarations included (its `=` outside quotes).
    attributes: usize,
    /// Its namespace declarations (`xmlns`, `xmlns:p`).
    declarations: usize,
    /// `<e/>`: nothing nests in it.
    empty: bool,
}

/// Refuses elements nested deeper than [`MAX_XML_DEPTH`], more than [`MAX_XML_ATTRIBUTES`]
/// attributes on an element, and more than [`MAX_XML_NAMESPACES`] namespace declarations in
/// scope at once. One pass over the text; it is exact on well-formed XML, and where the
/// text stops scanning as markup it stops, the parser refusing the document there.
pub(super) fn check(xml: &str) -> Result<(), XmlError> {
    let bytes = xml.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    let mut in_scope = 0;
    let mut i = 0;
    while let Some(at) = xml[i..].find('<').map(|p| i + p) {
        let rest = &xml[at..];
        let past = |end: &str| rest.find(end).map(|e| at + e + end.len());
        let next = if rest.starts_with("<!--") {
            past("-->")
        } else if rest.starts_with("<![CDATA[") {
            past("]]>")
        } else if rest.starts_with("<?") {
            past("?>")
        } else if rest.starts_with("<!") {
            past(">")
        } else if rest.starts_with("</") {
            in_scope -= open.pop().unwrap_or(0);
            past(">")
        } else {
            let Some(tag) = scan_tag(bytes, at + 1) else {
                return Ok(());
            };
            if tag.attributes > MAX_XML_ATTRIBUTES {
                return Err(XmlError::TooManyAttributes {
                    max: MAX_XML_ATTRIBUTES,
                });
            }
            if in_scope + tag.declarations > MAX_XML_NAMESPACES {
                return Err(XmlError::TooManyNamespaces {
                    max: MAX_XML_NAMESPACES,
                });
            }
            if open.len() >= MAX_XML_DEPTH {
                return Err(XmlError::TooDeep { max: MAX_XML_DEPTH });
            }
            if !tag.empty {
                open.push(tag.declarations);
                in_scope += tag.declarations;
            }
            Some(tag.end)
        };
        let Some(next) = next else {
            return Ok(());
        };
        i = next;
    }
    Ok(())
}

/// The start tag whose name begins at `start`, up to its `>` outside quotes; `None` where
/// it does not end as a tag does (a `<` in it, or the text's end).
fn scan_tag(bytes: &[u8], start: usize) -> Option<Tag> {
    let mut tag = Tag::default();
    let mut quote = None;
    for j in start..bytes.len() {
        let c = bytes[j];
        match (quote, c) {
            (_, b'<') => return None,
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'=') => tag.attributes += 1,
            (None, b'>') => {
                tag.empty = bytes[j - 1] == b'/';
                tag.end = j + 1;
                return Some(tag);
            }
            (None, _) if c.is_ascii_whitespace() && declares(&bytes[j + 1..]) => {
                tag.declarations += 1;
            }
            (None, _) => {}
        }
    }
    None
}

/// Whether an attribute starting here is a namespace declaration (`xmlns=`, `xmlns:p=`).
fn declares(attribute: &[u8]) -> bool {
    attribute.starts_with(b"xmlns")
        && attribute
            .get(5)
            .is_some_and(|c| matches!(c, b':' | b'=') || c.is_ascii_whitespace())
}
