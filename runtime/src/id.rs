//! Object identity: 32-byte ids shown as 64 lowercase hex, idFromName / newUniqueId /
//! idFromString semantics. The first 16 bytes are the base (keyed hash of the name, or random),
//! the last 16 a MAC of the base under the class's key, so ids are class-scoped and
//! unforgeable. Never derives anything from the id besides its class check and file name.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// A Durable-Object-style id: 32 bytes, displayed as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

impl ObjectId {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

/// The keyed space ids live in: one secret per runtime (per data directory), one derived key
/// per class. Same secret + class + name → same id, across restarts.
#[derive(Clone)]
pub struct IdSpace {
    secret: [u8; 32],
}

impl IdSpace {
    /// An id space with a fixed secret (persist it to keep ids stable across restarts).
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// An id space with a fresh random secret.
    pub fn random() -> Self {
        Self::new(rand::random())
    }

    /// The secret, for persisting.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    fn class_key(&self, class: &str) -> [u8; 32] {
        mac32(&self.secret, &[b"dobench/class-key/", class.as_bytes()])
    }

    fn with_mac(&self, class: &str, base: [u8; 16]) -> ObjectId {
        let key = self.class_key(class);
        let tag = mac32(&key, &[b"dobench/id-mac/", &base]);
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(&base);
        bytes[16..].copy_from_slice(&tag[..16]);
        ObjectId(bytes)
    }

    /// idFromName: deterministic for (class, name), distinct across classes.
    pub fn id_from_name(&self, class: &str, name: &str) -> ObjectId {
        let key = self.class_key(class);
        let digest = mac32(&key, &[b"dobench/name/", name.as_bytes()]);
        let mut base = [0u8; 16];
        base.copy_from_slice(&digest[..16]);
        self.with_mac(class, base)
    }

    /// newUniqueId: a random base, valid only for `class`.
    pub fn new_unique_id(&self, class: &str) -> ObjectId {
        self.with_mac(class, rand::random())
    }

    /// idFromString: parses 64 hex characters (either case) and checks that the id belongs to
    /// `class` in this id space. Malformed strings, ids of another class and made-up ids are
    /// all refused with a message saying which.
    pub fn id_from_string(&self, class: &str, s: &str) -> Result<ObjectId> {
        let bytes = parse_hex32(s)?;
        let mut base = [0u8; 16];
        base.copy_from_slice(&bytes[..16]);
        let expected = self.with_mac(class, base);
        if expected.0 != bytes {
            return Err(Error::InvalidId(format!(
                "`{s}` is well-formed but was not made for class `{class}` by this runtime"
            )));
        }
        Ok(expected)
    }
}

fn mac32(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        // Length-prefix each part so ("ab","c") and ("a","bc") never collide.
        mac.update(&(p.len() as u64).to_le_bytes());
        mac.update(p);
    }
    let out = mac.finalize().into_bytes();
    let mut r = [0u8; 32];
    r.copy_from_slice(&out);
    r
}

fn parse_hex32(s: &str) -> Result<[u8; 32]> {
    if s.len() != 64 {
        return Err(Error::InvalidId(format!(
            "an id is 64 hex characters; got {} characters",
            s.chars().count()
        )));
    }
    let mut out = [0u8; 32];
    let raw = s.as_bytes();
    for (i, byte) in out.iter_mut().enumerate() {
        let hi = hex_val(raw[2 * i], 2 * i)?;
        let lo = hex_val(raw[2 * i + 1], 2 * i + 1)?;
        *byte = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_val(c: u8, pos: usize) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(Error::InvalidId(format!(
            "character {} (`{}`) is not a hex digit",
            pos + 1,
            char::from(c).escape_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn space() -> IdSpace {
        IdSpace::new([7u8; 32])
    }

    #[test]
    fn rejects_wrong_length_and_non_hex() {
        let s = space();
        let err = s.id_from_string("counter", "abc").unwrap_err().to_string();
        assert!(err.contains("64 hex"), "{err}");
        let bad = "g".repeat(64);
        let err = s.id_from_string("counter", &bad).unwrap_err().to_string();
        assert!(err.contains("character 1"), "{err}");
    }

    #[test]
    fn rejects_ids_of_another_class() {
        let s = space();
        let id = s.id_from_name("counter", "x");
        let err = s.id_from_string("ratelimit", &id.to_hex()).unwrap_err();
        assert!(err.to_string().contains("class `ratelimit`"));
    }

    #[test]
    fn unique_ids_differ_and_validate() {
        let s = space();
        let a = s.new_unique_id("chat");
        let b = s.new_unique_id("chat");
        assert_ne!(a, b);
        assert_eq!(s.id_from_string("chat", &a.to_hex()).unwrap(), a);
    }

    #[test]
    fn another_secret_is_another_space() {
        let id = space().id_from_name("counter", "x");
        assert!(IdSpace::new([8u8; 32])
            .id_from_string("counter", &id.to_hex())
            .is_err());
    }

    proptest! {
        #[test]
        fn name_ids_are_deterministic_lowercase_hex(class in "[a-z]{1,12}", name in ".{0,64}") {
            let s = space();
            let a = s.id_from_name(&class, &name);
            let b = s.id_from_name(&class, &name);
            prop_assert_eq!(a, b);
            let hex = a.to_hex();
            prop_assert_eq!(hex.len(), 64);
            prop_assert!(hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        }

        #[test]
        fn string_round_trip_accepts_uppercase(class in "[a-z]{1,12}", name in ".{0,64}") {
            let s = space();
            let id = s.id_from_name(&class, &name);
            prop_assert_eq!(s.id_from_string(&class, &id.to_hex()).unwrap(), id);
            let upper = id.to_hex().to_uppercase();
            let back = s.id_from_string(&class, &upper).unwrap();
            prop_assert_eq!(back.to_hex(), id.to_hex());
        }

        #[test]
        fn random_strings_are_refused(bytes in proptest::array::uniform32(any::<u8>())) {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            // A made-up id passes only if it happens to carry a valid 128-bit MAC.
            prop_assert!(space().id_from_string("counter", &hex).is_err());
        }

        #[test]
        fn names_do_not_collide_across_classes(name in ".{0,32}") {
            let s = space();
            prop_assert_ne!(s.id_from_name("a", &name), s.id_from_name("b", &name));
        }
    }
}
