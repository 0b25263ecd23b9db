//! Fuzz target `parse`: arbitrary bytes through every parser of the `gs1` crate, and
//! every printed form re-parsed (see ../body.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../body.rs");

fuzz_target!(|data: &[u8]| {
    fuzz_parse(data);
});
