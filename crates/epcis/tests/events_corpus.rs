//! Every event of GS1's example documents (`../shared/data/gs1/epcis/JSON`) and of
//! openepcis's valid capture documents (`../shared/data/epcis-tests/openepcis/…/Capture/
//! Documents`) reads as a canonical event, and its record reads back the same.

use epcis::event::Event;
use std::path::{Path, PathBuf};

mod common;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    out.extend(common::files_with(dir, &["json", "jsonld"]));
}

/// The events of an EPCIS document (none for other documents: queries, masterdata).
fn events(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    doc.pointer("/epcisBody/eventList")
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default()
}

#[test]
fn every_event_of_the_valid_documents_reads() {
    let roots = [
        "gs1/epcis/JSON",
        "epcis-tests/openepcis/2.0/EPCIS/JSON/Capture/Documents",
    ];
    let (mut docs, mut read) = (0, 0);
    let mut failed = Vec::new();
    for rel in roots {
        let Some(dir) = common::shared(rel, "the events corpus") else {
            return;
        };
        let mut paths = Vec::new();
        files(&dir, &mut paths);
        for p in paths {
            let doc = common::read_json(&p);
            let list = events(&doc);
            docs += usize::from(!list.is_empty());
            for (i, e) in list.iter().enumerate() {
                match Event::from_json(e) {
                    Ok(ev) => {
                        assert_eq!(Event::decode(&ev.encode()).as_ref(), Ok(&ev));
                        read += 1;
                    }
                    Err(err) => failed.push(format!("{} event {i}: {err}", p.display())),
                }
            }
        }
    }
    eprintln!(
        "{read} events of {docs} documents read; {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(read > 100, "the corpus has events: {read}");
}
