use super::*;
use serde_json::json;

fn document(events: &str, namespaces: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" {namespaces}
    schemaVersion="2.0" creationDate="2024-01-01T00:00:00Z">
  <EPCISBody><EventList>{events}</EventList></EPCISBody>
</epcis:EPCISDocument>"#
    )
}

const SHIPPING: &str = r#"<ObjectEvent>
  <eventTime>2024-01-01T10:00:00+01:00</eventTime>
  <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:0614141.107346.2017</epc></epcList>
  <action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
  <disposition>cbv:Disp-in_transit</disposition>
  <readPoint><id>urn:epc:id:sgln:0614141.07346.1234</id></readPoint>
  <bizTransactionList>
    <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epc:id:gdti:0614141.00001.1618034</bizTransaction>
  </bizTransactionList>
  <extension><quantityList><quantityElement>
    <epcClass>urn:epc:class:lgtin:4012345.012345.998877</epcClass>
    <quantity>+200.50</quantity><uom>KGM</uom>
  </quantityElement></quantityList></extension>
  <ex:note ex:lang="en">fragile</ex:note>
  <ex:note>second</ex:note>
</ObjectEvent>"#;

#[test]
fn an_event_reads_as_json_writes_it() {
    let xml = document(SHIPPING, r#"xmlns:ex="https://ns.example.com/x/""#);
    let doc = document_from_xml(&xml).expect("reads");
    assert_eq!(
        doc["@context"],
        json!([EPCIS_CONTEXT, {"ex": "https://ns.example.com/x/"}])
    );
    assert_eq!(doc["type"], "EPCISDocument");
    let event = &doc["epcisBody"]["eventList"][0];
    assert_eq!(
        *event,
        json!({
            "type": "ObjectEvent",
            "eventTime": "2024-01-01T10:00:00+01:00",
            "eventTimeZoneOffset": "+01:00",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
            "bizTransactionList": [
                {"type": "po", "bizTransaction": "urn:epc:id:gdti:0614141.00001.1618034"}
            ],
            "quantityList": [{
                "epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                "quantity": 200.5,
                "uom": "KGM"
            }],
            "ex:note": [{"ex:lang": "en", "#text": "fragile"}, "second"]
        })
    );
    crate::event::Event::from_json(event).expect("a canonical event");
}

#[test]
fn sensor_reports_are_typed() {
    let event = r#"<ObjectEvent>
  <eventTime>2024-01-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList/><action>OBSERVE</action>
  <sensorElementList><sensorElement>
    <sensorMetadata time="2024-01-01T09:00:00Z" ex:batch="7"/>
    <sensorReport type="gs1:Temperature" value="26" uom="CEL" booleanValue="true"/>
    <sensorReport type="https://example.org/Smell" sDev="0.25" exception="gs1:ALARM_CONDITION"/>
  </sensorElement></sensorElementList>
</ObjectEvent>"#;
    let doc = document_from_xml(&document(event, r#"xmlns:ex="https://ex.org/""#)).expect("reads");
    assert_eq!(
        doc["epcisBody"]["eventList"][0]["sensorElementList"],
        json!([{
            "sensorMetadata": {"time": "2024-01-01T09:00:00Z", "ex:batch": "7"},
            "sensorReport": [
                {"type": "Temperature", "value": 26, "uom": "CEL", "booleanValue": true},
                {"type": "https://example.org/Smell", "sDev": 0.25, "exception": "ALARM_CONDITION"}
            ]
        }])
    );
}

#[test]
fn prefixes_stay_apart() {
    // Two namespaces under one prefix, and a prefix GS1's context has for another IRI.
    let event = r#"<ObjectEvent xmlns:a="https://one.example/">
  <eventTime>2024-01-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList/><action>OBSERVE</action>
  <a:x>1</a:x>
  <b:y xmlns:b="https://two.example/"><a:z xmlns:a="https://three.example/">2</a:z></b:y>
  <gs1:w xmlns:gs1="https://not-gs1.example/">3</gs1:w>
</ObjectEvent>"#;
    let doc = document_from_xml(&document(event, "")).expect("reads");
    assert_eq!(
        doc["@context"][1],
        json!({
            "a": "https://one.example/",
            "b": "https://two.example/",
            "a2": "https://three.example/",
            "gs12": "https://not-gs1.example/"
        })
    );
    let e = &doc["epcisBody"]["eventList"][0];
    assert_eq!(e["a:x"], "1");
    assert_eq!(e["b:y"], json!({"a2:z": "2"}));
    assert_eq!(e["gs12:w"], "3");
}

#[test]
fn numbered_prefixes_go_on_where_they_stopped() {
    let declared = [
        ("ex", 1),
        ("ex", 2),
        ("ex3", 3),
        ("ex", 4),
        ("ex2", 5),
        ("ex", 6),
    ];
    let extensions: String = declared
        .iter()
        .map(|(p, n)| format!("<{p}:a xmlns:{p}=\"urn:x:{n}\">v</{p}:a>"))
        .collect();
    let event = format!(
        "<ObjectEvent><eventTime>2024-01-01T10:00:00Z</eventTime>\
         <eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>OBSERVE</action>\
         {extensions}</ObjectEvent>"
    );
    let doc = document_from_xml(&document(&event, "")).expect("reads");
    assert_eq!(
        doc["@context"][1],
        json!({"ex": "urn:x:1", "ex2": "urn:x:2", "ex3": "urn:x:3", "ex4": "urn:x:4",
               "ex22": "urn:x:5", "ex5": "urn:x:6"})
    );
}

#[test]
fn a_single_event_reads_with_its_context() {
    let xml = r#"<ObjectEvent xmlns="urn:epcglobal:epcis:xsd:2" creationDate="x">
  <eventTime>2024-01-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList/><action>ADD</action></ObjectEvent>"#;
    let event = document_from_xml(xml).expect("reads");
    assert_eq!(event["type"], "ObjectEvent");
    assert_eq!(event["@context"], json!([EPCIS_CONTEXT]));
    assert!(event.get("creationDate").is_none());
    crate::schema::validate_document(&event).expect("valid");
}

#[test]
fn the_xsd_order_and_fields_are_kept() {
    let wrong_order = r#"<ObjectEvent><action>ADD</action>
  <eventTime>2024-01-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
</ObjectEvent>"#;
    let e = document_from_xml(&document(wrong_order, "")).expect_err("order");
    assert!(e.to_string().contains("`eventTime` after `action`"), "{e}");
    assert!(
        e.to_string()
            .starts_with("/EPCISDocument/EPCISBody/EventList/ObjectEvent/eventTime"),
        "{e}"
    );
    let unknown = r#"<ObjectEvent><eventTime>2024-01-01T10:00:00Z</eventTime>
  <madeUp>x</madeUp></ObjectEvent>"#;
    let e = document_from_xml(&document(unknown, "")).expect_err("unknown");
    assert!(e.to_string().contains("no field `madeUp`"), "{e}");
    let text = r#"<ObjectEvent><eventTime>2024-01-01T10:00:00Z</eventTime>
  <eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>ADD</action>
  <quantityList><quantityElement><epcClass>urn:x</epcClass><quantity>twenty</quantity>
  </quantityElement></quantityList></ObjectEvent>"#;
    let e = document_from_xml(&document(text, "")).expect_err("a number");
    assert!(
        e.to_string().contains("quantity `twenty` is not a number"),
        "{e}"
    );
}

#[test]
fn hostile_documents_are_bounded() {
    let entity = r#"<?xml version="1.0"?>
<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">&lol2;</epcis:EPCISDocument>"#;
    assert_eq!(document_from_xml(entity), Err(XmlError::Dtd));
    let external = r#"<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>"#;
    assert_eq!(document_from_xml(external), Err(XmlError::Dtd));
    // A bare DOCTYPE declares nothing (GS1's examples have `<!DOCTYPE project>`).
    let bare = document("", "").replace(
        "<epcis:EPCISDocument",
        "<!DOCTYPE project>\n<epcis:EPCISDocument",
    );
    assert!(document_from_xml(&bare).is_ok());
    let deep = format!(
        "{}{}",
        "<ex:a>".repeat(MAX_XML_DEPTH),
        "</ex:a>".repeat(MAX_XML_DEPTH)
    );
    let deep = document(
        &format!("<ObjectEvent>{deep}</ObjectEvent>"),
        r#"xmlns:ex="https://ex.org/""#,
    );
    assert_eq!(
        document_from_xml(&deep),
        Err(XmlError::TooDeep { max: MAX_XML_DEPTH })
    );
    let many = format!("<a>{}</a>", "<b/>".repeat(MAX_XML_NODES as usize));
    assert_eq!(
        document_from_xml(&many),
        Err(XmlError::TooManyNodes { max: MAX_XML_NODES })
    );
    let attributes: String = (0..=MAX_XML_ATTRIBUTES)
        .map(|i| format!(" a{i}='>'"))
        .collect();
    assert_eq!(
        document_from_xml(&format!("<!-- <x> --><a{attributes}/>")),
        Err(XmlError::TooManyAttributes {
            max: MAX_XML_ATTRIBUTES
        })
    );
    let declare = |n: usize| -> String {
        (0..n)
            .map(|i| format!(" xmlns:p{i}=\"https://ex.org/{i}\""))
            .collect()
    };
    let nested = format!(
        "<a{}><b{}/></a>",
        declare(MAX_XML_NAMESPACES - 1),
        declare(2)
    );
    assert_eq!(
        document_from_xml(&nested),
        Err(XmlError::TooManyNamespaces {
            max: MAX_XML_NAMESPACES
        })
    );
    // Within the bounds, the same shapes parse (and are no EPCIS documents).
    let within = format!(
        "<a{}><b{}/></a>",
        declare(MAX_XML_NAMESPACES - 2),
        declare(2)
    );
    assert!(matches!(
        document_from_xml(&within),
        Err(XmlError::Invalid { .. })
    ));
    let large = " ".repeat(MAX_XML_BYTES + 1);
    assert!(matches!(
        document_from_xml(&large),
        Err(XmlError::TooLarge { .. })
    ));
    assert!(matches!(
        document_from_xml("<a><b></a>"),
        Err(XmlError::Syntax(_))
    ));
}

#[test]
fn numbers_are_xsd_numbers() {
    assert_eq!(number("150"), Some(150.into()));
    assert_eq!(number("+7"), Some(7.into()));
    assert_eq!(number("26.0").and_then(|n| n.as_f64()), Some(26.0));
    assert_eq!(number(".5").and_then(|n| n.as_f64()), Some(0.5));
    assert_eq!(number("1E3").and_then(|n| n.as_f64()), Some(1000.0));
    for bad in ["INF", "-INF", "NaN", "twenty", "", "1,5"] {
        assert_eq!(number(bad), None, "{bad}");
    }
}

#[test]
fn epcis_1_2_reads_as_2_0() {
    let xml = r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1"
    xmlns:sbdh="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
    xmlns:ex="https://ex.org/" schemaVersion="1.2" creationDate="2020-01-01T00:00:00Z">
  <EPCISHeader>
    <sbdh:StandardBusinessDocumentHeader>
      <sbdh:Sender><sbdh:Identifier>urn:epc:id:sgln:0353579.00001.0</sbdh:Identifier></sbdh:Sender>
      <sbdh:Receiver><sbdh:Identifier>urn:epc:id:sgln:5012345.00001.0</sbdh:Identifier></sbdh:Receiver>
      <sbdh:DocumentIdentification><sbdh:InstanceIdentifier>42</sbdh:InstanceIdentifier></sbdh:DocumentIdentification>
    </sbdh:StandardBusinessDocumentHeader>
    <extension><EPCISMasterData><VocabularyList>
      <Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation"><VocabularyElementList>
        <VocabularyElement id="urn:epc:id:sgln:0037000.00729.0">
          <attribute id="urn:epcglobal:cbv:mda#name">Depot</attribute>
          <children><id>urn:epc:id:sgln:0037000.00729.8201</id></children>
        </VocabularyElement>
      </VocabularyElementList></Vocabulary>
    </VocabularyList></EPCISMasterData></extension>
  </EPCISHeader>
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2020-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
      <baseExtension>
        <eventID>urn:uuid:1</eventID>
        <errorDeclaration><declarationTime>2020-01-02T00:00:00Z</declarationTime>
          <reason>urn:epcglobal:cbv:er:incorrect_data</reason>
          <correctiveEventIDs><correctiveEventID>urn:uuid:2</correctiveEventID></correctiveEventIDs>
        </errorDeclaration>
      </baseExtension>
      <epcList/><action>ADD</action>
      <extension>
        <quantityList><quantityElement><epcClass>urn:x</epcClass><quantity>3</quantity></quantityElement></quantityList>
        <ilmd><ex:lot>L1</ex:lot></ilmd>
      </extension>
    </ObjectEvent>
    <extension><TransformationEvent>
      <eventTime>2020-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
      <inputEPCList><epc>urn:a</epc></inputEPCList><outputEPCList><epc>urn:b</epc></outputEPCList>
    </TransformationEvent></extension>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"#;
    let doc = document_from_xml(xml).expect("reads");
    assert_eq!(doc["schemaVersion"], "2.0");
    assert_eq!(doc["sender"], "urn:epc:id:sgln:0353579.00001.0");
    assert_eq!(doc["receiver"], "urn:epc:id:sgln:5012345.00001.0");
    assert_eq!(doc["instanceIdentifier"], "42");
    assert_eq!(
        doc["epcisHeader"]["epcisMasterData"]["vocabularyList"],
        json!([{
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [{
                "id": "urn:epc:id:sgln:0037000.00729.0",
                "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Depot"}],
                "children": ["urn:epc:id:sgln:0037000.00729.8201"]
            }]
        }])
    );
    let events = &doc["epcisBody"]["eventList"];
    assert_eq!(events[0]["eventID"], "urn:uuid:1");
    assert_eq!(
        events[0]["errorDeclaration"],
        json!({
            "declarationTime": "2020-01-02T00:00:00Z",
            "reason": "incorrect_data",
            "correctiveEventIDs": ["urn:uuid:2"]
        })
    );
    assert_eq!(events[0]["quantityList"][0]["quantity"], 3);
    assert_eq!(events[0]["ilmd"], json!({"ex:lot": "L1"}));
    assert_eq!(events[1]["type"], "TransformationEvent");
    assert_eq!(events[1]["inputEPCList"], json!(["urn:a"]));
    crate::schema::validate_document(&doc).expect("valid");
}

#[test]
fn a_uri_scheme_is_no_prefix() {
    let event = r#"<ObjectEvent xmlns:https="https://ns.example.com/" xmlns:ex="https://ns.example.com/">
  <eventTime>2024-01-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <epcList/><action>OBSERVE</action><https:f>1</https:f>
  <u:g xmlns:u="https://u.example/" xmlns:urn="https://u.example/">2</u:g>
  <urn:h xmlns:urn="https://h.example/">3</urn:h>
</ObjectEvent>"#;
    let doc = document_from_xml(&document(event, "")).expect("reads");
    assert_eq!(
        doc["@context"][1],
        json!({
            "ex": "https://ns.example.com/",
            "u": "https://u.example/",
            "ns": "https://h.example/"
        })
    );
    let e = &doc["epcisBody"]["eventList"][0];
    assert_eq!(
        (&e["ex:f"], &e["u:g"], &e["ns:h"]),
        (&json!("1"), &json!("2"), &json!("3"))
    );
}
