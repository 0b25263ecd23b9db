//! Code orders: accepted at once, produced in the background in chunks, fetched in pages.
//!
//! Operator serials are a keyed permutation of a per-GTIN counter (see `issuance`), so an
//! order only reserves a counter range; its codes are recomputed on each page fetch
//! (tails are deterministic) and nothing but the codes' states is written. Self-made
//! serials are stored with the order.

use crate::Registry;
use issuance::{IdCode, SerialLen};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use types::error::{CodeError, Error, Result};
pub use types::limits::{ACTIVE_ORDERS_MAX, ORDER_CHUNK, ORDER_PAGE_MAX, ORDER_QUANTITY_MAX};
use types::model::{
    product_group, CodeKey, CodeState, Order, OrderStatus, Participant, Role, SerialType, Status,
    TailKind,
};

/// One emission chunk of an order, computed outside the writer ([`Registry::make_chunk`]).
pub(crate) struct Chunk {
    /// How many codes.
    pub(crate) count: u32,
    /// Codes stored one by one: key, text (empty), tail fingerprint. Empty for a range.
    codes: Vec<(CodeKey, String, u64)>,
    /// Whether the chunk is stored as one [`types::model::CodeRange`].
    ranged: bool,
    /// BLAKE3 of the chunk's code keys in counter order (the log leaf's `codes_blake3`).
    blake3: [u8; 32],
}

/// The keys of a ranged order's codes `from .. from + n`, in counter order
/// ([`crate::ranges::range_keys`]).
fn range_keys(
    kr: &issuance::Keyring,
    order: &Order,
    from: u32,
    n: u32,
) -> Result<impl Iterator<Item = Result<CodeKey>>> {
    let gtin: u64 = order.gtin.parse().map_err(|_| Error::invalid("bad GTIN"))?;
    let keys = crate::ranges::range_keys(
        kr.serials(),
        gtin,
        order.serial_len,
        order.counter_start + u64::from(from),
        n,
    )
    .map_err(|e| Error::invalid(e.to_string()))?;
    Ok(keys.map(|k| k.map_err(|e| Error::invalid(e.to_string()))))
}

/// A code order as submitted (`POST /api/v1/orders`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// GTIN of a product card the caller owns.
    #[schema(schema_with = types::apidoc::gtin)]
    pub gtin: String,
    /// How many codes.
    #[schema(minimum = 1, maximum = 2000000)]
    pub quantity: u32,
    /// `operator` or `self_made`.
    pub serial_type: SerialType,
    /// Self-made serials (exactly `quantity` of them).
    #[serde(default)]
    pub serials: Option<Vec<String>>,
    /// `mac`, `signature` or `short`.
    #[schema(schema_with = types::apidoc::order_tail)]
    pub tail: String,
}

/// A page of an order's codes.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OrderCodes {
    /// Full codes: identification code, GS, tail (GS written `\u001d` in JSON).
    pub codes: Vec<String>,
    /// Offset of the next page, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
}

use crate::ranges::issuance_kind;

fn valid_serial(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= types::model::SERIAL_LEN_MAX
        && s.bytes().all(issuance::tail::is_cset82)
}

impl Registry {
    /// Accepts an order; its codes are produced in the background.
    pub fn create_order(&self, actor: &Participant, req: NewOrder) -> Result<Order> {
        self.create_order_signed(actor, req, types::model::Signed::default())
    }

    /// Accepts an order, keeping the signed request that asked for it in the log.
    pub fn create_order_signed(
        &self,
        actor: &Participant,
        req: NewOrder,
        signed: types::model::Signed,
    ) -> Result<Order> {
        if !(actor.has(Role::Producer) || actor.has(Role::Importer)) {
            return Err(Error::Forbidden(
                "only producers and importers order codes".into(),
            ));
        }
        let gtin = crate::parse_gtin(&req.gtin)?;
        let product = self
            .product(gtin)?
            .ok_or_else(|| Error::invalid(format!("GTIN {gtin:014} has no product card")))?;
        let digits = format!("{gtin:014}");
        if product.owner != actor.id
            || self
                .prefix_holder(&digits[1..])
                .is_some_and(|h| h != actor.id)
        {
            return Err(Error::Forbidden(format!(
                "codes for GTIN {digits} are ordered by the holder of its GS1 company prefix"
            )));
        }
        if product.owner != actor.id {
            return Err(Error::Forbidden(format!(
                "GTIN {gtin:014} belongs to another participant"
            )));
        }
        let group = product_group(&product.product_group)
            .ok_or_else(|| Error::invalid("the product's group is unknown"))?;
        if req.quantity == 0 || req.quantity > ORDER_QUANTITY_MAX {
            return Err(Error::invalid(format!(
                "`quantity` must be 1 to {ORDER_QUANTITY_MAX}"
            )));
        }
        let tail = match req.tail.as_str() {
            "mac" => TailKind::Mac,
            "signature" => TailKind::Signature,
            "short" => TailKind::Short,
            t => {
                return Err(Error::invalid(format!(
                    "`tail` {t:?} is not one of mac, signature, short"
                )))
            }
        };
        let serials = match (req.serial_type, req.serials) {
            (SerialType::Operator, None) => None,
            (SerialType::Operator, Some(_)) => {
                return Err(Error::invalid(
                    "`serials` go with `serial_type` self_made only",
                ))
            }
            (SerialType::SelfMade, None) => {
                return Err(Error::invalid("`serial_type` self_made needs `serials`"))
            }
            (SerialType::SelfMade, Some(list)) => {
                if list.len() != req.quantity as usize {
                    return Err(Error::invalid(format!(
                        "{} serials for a quantity of {}",
                        list.len(),
                        req.quantity
                    )));
                }
                let mut seen = HashSet::with_capacity(list.len());
                let mut errors = Vec::new();
                for s in &list {
                    if s.len() != usize::from(group.serial_len) {
                        // The serial's length is the product group's (`PRODUCT_GROUPS`).
                        errors.push(CodeError {
                            code: s.clone(),
                            reason: "bad_length",
                        });
                    } else if !valid_serial(s) {
                        errors.push(CodeError {
                            code: s.clone(),
                            reason: "bad_character",
                        });
                    } else if !seen.insert(s.as_str()) {
                        errors.push(CodeError {
                            code: s.clone(),
                            reason: "duplicate_in_document",
                        });
                    }
                    if errors.len() >= 1_000 {
                        break;
                    }
                }
                if !errors.is_empty() {
                    return Err(Error::Invalid {
                        detail: format!(
                            "bad serials (a {} serial is {} characters of CSET 82); nothing was ordered",
                            group.name, group.serial_len
                        ),
                        errors,
                    });
                }
                Some(list)
            }
        };
        let kid = {
            let kr = self.inner.keyring.read();
            let alg = issuance::Algorithm::for_tail(
                issuance_kind(tail).unwrap_or(issuance::TailKind::Mac),
            );
            kr.current_kid(alg)
        };
        let key_index: u16 = kid
            .as_str()
            .parse()
            .map_err(|_| Error::Unavailable("key ids must be numeric".into()))?;
        let now = self.now();
        let actor_id = actor.id;
        let quantity = req.quantity;
        let serial_type = req.serial_type;
        let serial_len = group.serial_len;
        let reg = self.clone();
        let order = self.write(move |tx| {
            reg.refuse_if_suspended(tx, actor_id)?;
            // Counted in the writer, with this batch's orders: concurrent requests cannot
            // race past the limit.
            if tx.active_orders_of(actor_id)? >= ACTIVE_ORDERS_MAX {
                return Err(Error::TooMany(format!(
                    "{ACTIVE_ORDERS_MAX} active orders at most; close finished ones first"
                )));
            }
            let pending = tx.pending_codes_of(actor_id)?;
            let quota = crate::emission::PENDING_CODES_PER_PARTICIPANT_MAX;
            if pending + u64::from(quantity) > quota {
                return Err(Error::TooMany(format!(
                    "your orders waiting for production hold {pending} codes; at most {quota} \
                     may wait at once: order again when they are ready"
                )));
            }
            let name = format!("serial_counter:{gtin:014}");
            let start = if serial_type == SerialType::Operator {
                tx.counter(&name)?
            } else {
                0
            };
            let len = SerialLen::new(usize::from(serial_len))
                .map_err(|e| Error::Unavailable(e.to_string()))?;
            if serial_type == SerialType::Operator
                && u128::from(start + u64::from(quantity)) > len.domain()
            {
                return Err(Error::Conflict(format!(
                    "GTIN {gtin:014} has run out of serials"
                )));
            }
            let order = Order {
                id: uuid::Uuid::now_v7(),
                participant: actor_id,
                gtin: format!("{gtin:014}"),
                quantity,
                serial_type,
                tail,
                key_index,
                serial_len,
                counter_start: start,
                status: OrderStatus::Pending,
                produced: 0,
                created_at: now,
                error: None,
            };
            if serial_type == SerialType::Operator {
                tx.set_counter(&name, start + u64::from(quantity));
            } else {
                let flag = format!("self_made:{gtin:014}");
                let n = tx.counter(&flag)?;
                tx.set_counter(&flag, n + 1);
            }
            if let Some(list) = serials {
                for (i, chunk) in list.chunks(ORDER_CHUNK as usize).enumerate() {
                    tx.put_order_serials(order.id, i as u32 * ORDER_CHUNK, chunk.to_vec());
                }
            }
            tx.put_order(order.clone());
            tx.append_log(
                types::log::LeafKind::Order,
                actor_id,
                &serde_json::json!({
                    "order_id": order.id, "gtin": order.gtin, "quantity": quantity,
                    "counter_start": start, "key_index": key_index,
                    "request": signed.leaf_json(),
                }),
            );
            Ok(order)
        })?;
        self.spawn_production(order.clone());
        Ok(order)
    }

    /// Restarts production of orders left pending by a stop.
    pub(crate) fn resume_orders(&self) -> Result<()> {
        for p in self.inner.store.participants()? {
            for o in self.inner.store.orders_of(p.id)? {
                if o.status == OrderStatus::Pending {
                    self.spawn_production(o);
                }
            }
        }
        Ok(())
    }

    fn spawn_production(&self, order: Order) {
        self.inner.emitter.enqueue(order);
    }

    /// Codes `from .. from + n` of an order: key, tail fingerprint and, with `text`, the
    /// full code (identification code, GS, tail) for the orderer to print.
    fn make_codes(
        &self,
        order: &Order,
        from: u32,
        n: u32,
        text: bool,
    ) -> Result<Vec<(CodeKey, String, u64)>> {
        let gtin: u64 = order.gtin.parse().map_err(|_| Error::invalid("bad GTIN"))?;
        let kind =
            issuance_kind(order.tail).ok_or_else(|| Error::invalid("order without a tail"))?;
        let kr = self.inner.keyring.read();
        let kid = format!("{:04}", order.key_index);
        let mut out = Vec::with_capacity(n as usize);
        let mut issue = |serial: &str| -> Result<()> {
            let id = IdCode::new(gtin, serial).map_err(|e| Error::invalid(e.to_string()))?;
            let tail = kr
                .issue_tail_with(&kid, kind, id.as_str())
                .map_err(|e| Error::Unavailable(e.to_string()))?;
            let mut full = String::new();
            if text {
                full.reserve(id.as_str().len() + 100);
                full.push_str(id.as_str());
                tail.push_element_string(&mut full);
            }
            out.push((
                CodeKey::unit(gtin, serial.as_bytes()),
                full,
                tail.fingerprint(),
            ));
            Ok(())
        };
        match order.serial_type {
            SerialType::SelfMade => {
                for s in self.inner.store.order_serials(&order.id, from, n)? {
                    issue(&s)?;
                }
            }
            SerialType::Operator => {
                let len = SerialLen::new(usize::from(order.serial_len))
                    .map_err(|e| Error::invalid(e.to_string()))?;
                let seq = kr
                    .serials()
                    .sequence(gtin, len)
                    .map_err(|e| Error::invalid(e.to_string()))?;
                for i in from..from + n {
                    let s = seq
                        .serial(order.counter_start + u64::from(i))
                        .map_err(|e| Error::invalid(e.to_string()))?;
                    issue(s.as_str())?;
                }
            }
        }
        Ok(out)
    }

    /// The next chunk of an order's codes, computed outside the writer; `None` when the
    /// order is complete. A ranged order's chunk ([`crate::ranges`]) is up to
    /// [`crate::ranges::RANGE_CHUNK`] codes of which only the keys' BLAKE3 is computed
    /// (for the log leaf); another's is [`ORDER_CHUNK`] codes with their tails'
    /// fingerprints, each stored as a state.
    pub(crate) fn make_chunk(&self, order: &Order) -> Result<Option<Chunk>> {
        if order.produced >= order.quantity {
            return Ok(None);
        }
        let left = order.quantity - order.produced;
        if crate::ranges::ranged(order) {
            let n = crate::ranges::RANGE_CHUNK.min(left);
            let mut h = blake3::Hasher::new();
            let keys = range_keys(&self.inner.keyring.read(), order, order.produced, n)?;
            for k in keys {
                h.update(k?.as_bytes());
            }
            return Ok(Some(Chunk {
                count: n,
                codes: Vec::new(),
                ranged: true,
                blake3: *h.finalize().as_bytes(),
            }));
        }
        let n = ORDER_CHUNK.min(left);
        let codes = self.make_codes(order, order.produced, n, false)?;
        let mut h = blake3::Hasher::new();
        for (k, _, _) in &codes {
            h.update(k.as_bytes());
        }
        Ok(Some(Chunk {
            count: n,
            codes,
            ranged: false,
            blake3: *h.finalize().as_bytes(),
        }))
    }

    /// Hands a computed chunk to the writer's bulk lane; the receiver gets the order's
    /// progress once it is durable. The job writes nothing unless the stored order is still
    /// pending at exactly this chunk's start (a chunk computed ahead of a failed or
    /// rejected one is skipped, answering `None`).
    pub(crate) fn submit_chunk(
        &self,
        order: &Order,
        chunk: Chunk,
    ) -> Result<crossbeam_channel::Receiver<Result<Option<Order>>>> {
        let produced = order.produced;
        let n = chunk.count;
        let mut o = order.clone();
        let owner = order.participant;
        let tail = order.tail;
        let key_index = order.key_index;
        let self_made = order.serial_type == SerialType::SelfMade;
        let self_made_name = format!("self_made:{}", order.gtin);
        let keyring = self.inner.keyring.clone();
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.write_bulk_then(
            move |tx| {
                let current = tx.store().order(&o.id)?;
                if current
                    .is_none_or(|c| c.status != OrderStatus::Pending || c.produced != produced)
                {
                    return Ok(None);
                }
                let Chunk {
                    codes,
                    ranged,
                    blake3,
                    ..
                } = chunk;
                // Operator serials are a permutation of a counter: unique by
                // construction. Only self-made serials (this order's, or earlier ones
                // of the GTIN that an operator serial could meet) need the look-up.
                if self_made || tx.counter(&self_made_name)? > 0 {
                    let keys: Vec<CodeKey> = if ranged {
                        range_keys(&keyring.read(), &o, produced, n)?.collect::<Result<_>>()?
                    } else {
                        codes.iter().map(|c| c.0).collect()
                    };
                    // Read without keeping them in the overlay: a later job of the batch
                    // must find a ranged code in its range, not as the unknown read here.
                    let states = tx.peek(&keys)?;
                    let dup: Vec<String> = keys
                        .iter()
                        .zip(&states)
                        .filter(|(_, s)| s.is_some())
                        .map(|(k, _)| k.to_string())
                        .collect();
                    if !dup.is_empty() {
                        // Serials already taken: the order stops here, what was made
                        // stays (EMITTED codes expire unused).
                        o.status = OrderStatus::Rejected;
                        o.produced = produced;
                        o.error = Some(format!(
                            "{} serials exist already for this GTIN, e.g. {}",
                            dup.len(),
                            dup[0]
                        ));
                        tx.put_order(o);
                        return Ok(None);
                    }
                }
                let now = tx.now;
                let mut leaf = serde_json::json!({
                    "order_id": o.id, "first": produced, "count": n,
                    "codes_blake3": types::log::hex(&blake3),
                });
                if ranged {
                    // The form is in the leaf, so that a replay stores what was stored.
                    leaf["form"] = "range".into();
                }
                tx.append_log(types::log::LeafKind::Emission, 0, &leaf);
                if ranged {
                    let gtin: u64 = o.gtin.parse().map_err(|_| Error::invalid("bad GTIN"))?;
                    tx.put_range(types::model::CodeRange {
                        gtin,
                        serial_len: o.serial_len,
                        counter_lo: o.counter_start + u64::from(produced),
                        count: n,
                        owner,
                        tail,
                        key_index,
                        at: now,
                        order: o.id,
                    });
                } else {
                    tx.reserve(codes.len());
                    for (k, _, fp) in &codes {
                        let mut st = CodeState::new(Status::Emitted, owner, now);
                        st.tail = tail;
                        st.key_index = key_index;
                        st.tail_fp = *fp;
                        tx.put_new_code(*k, st);
                    }
                }
                o.produced = produced + n;
                if o.produced == o.quantity {
                    o.status = OrderStatus::Ready;
                }
                tx.put_order(o.clone());
                Ok((o.status == OrderStatus::Pending).then_some(o))
            },
            move |r| {
                let _ = reply.send(r);
            },
        )?;
        Ok(wait)
    }

    /// An order (its orderer only).
    pub fn order(&self, actor: &Participant, id: &uuid::Uuid) -> Result<Order> {
        self.inner
            .store
            .order(id)?
            .filter(|o| o.participant == actor.id)
            .ok_or_else(|| Error::NotFound(format!("no order {id}")))
    }

    /// A page of an order's codes, with their tails.
    pub fn order_codes(
        &self,
        actor: &Participant,
        id: &uuid::Uuid,
        offset: u32,
        limit: u32,
    ) -> Result<OrderCodes> {
        let order = self.order(actor, id)?;
        let limit = limit.clamp(1, ORDER_PAGE_MAX);
        if offset >= order.produced {
            if order.status == OrderStatus::Pending {
                return Err(Error::Conflict(format!(
                    "order {id} has produced {} of {} codes so far; try again shortly",
                    order.produced, order.quantity
                )));
            }
            return Ok(OrderCodes {
                codes: Vec::new(),
                next_offset: None,
            });
        }
        let n = limit.min(order.produced - offset);
        let codes = self.make_codes(&order, offset, n, true)?;
        let next = offset + n;
        Ok(OrderCodes {
            codes: codes.into_iter().map(|c| c.1).collect(),
            next_offset: (next < order.quantity).then_some(next),
        })
    }

    /// Closes an order: its codes stay, it no longer counts as active.
    pub fn close_order(&self, actor: &Participant, id: &uuid::Uuid) -> Result<Order> {
        self.close_order_signed(actor, id, types::model::Signed::default())
    }

    /// Closes an order, keeping the signed request in the log.
    pub fn close_order_signed(
        &self,
        actor: &Participant,
        id: &uuid::Uuid,
        signed: types::model::Signed,
    ) -> Result<Order> {
        let order = self.order(actor, id)?;
        if order.status == OrderStatus::Pending {
            return Err(Error::Conflict(
                "an order is closed once its codes are ready".into(),
            ));
        }
        let id = *id;
        let (reg, actor_id) = (self.clone(), actor.id);
        self.write(move |tx| {
            reg.refuse_if_suspended(tx, actor_id)?;
            let mut o = tx
                .store()
                .order(&id)?
                .ok_or_else(|| Error::NotFound(format!("no order {id}")))?;
            if o.status == OrderStatus::Closed {
                return Err(Error::Conflict(format!("order {id} is closed already")));
            }
            o.status = OrderStatus::Closed;
            tx.put_order(o.clone());
            tx.append_log(
                types::log::LeafKind::OrderClose,
                o.participant,
                &serde_json::json!({"order_id": id, "request": signed.leaf_json()}),
            );
            Ok(o)
        })
    }
}
