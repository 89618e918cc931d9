//! Spec files: a mistake is refused at load time with an error naming the file, the field and the
//! problem; good files (inline, on disk, built in) load with what they say.

use iso8583_client::spec::{
    BitmapEncoding, ContentClass, Encoding, FixedPad, LengthKind, LengthUnit, MtiEncoding, OddPad, PrefixEncoding,
    BUILTIN_SPECS,
};
use iso8583_client::spec::{Sensitivity, SpecError};
use iso8583_client::Spec;

fn with_field(field: &str) -> String {
    format!(
        "name = \"t\"\nmti = \"ascii\"\nbitmap = \"hex\"\nfields = [\n  {{ number = 11, name = \"STAN\", length = \"fixed\", max = 6, class = \"n\" }},\n  {field},\n]\n"
    )
}

#[track_caller]
fn refused(field: &str) -> SpecError {
    match Spec::from_toml(&with_field(field), "t.toml") {
        Ok(s) => panic!("accepted {field}: {s:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn says(field: &str, expected: &str) {
    assert_eq!(refused(field).to_string(), expected, "for {field}");
}

#[test]
fn the_four_mistakes_of_the_issue() {
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", encoding = "ebcdik" }"#,
        r#"t.toml: field 2 (PAN): unknown encoding "ebcdik" (expected ascii, ebcdic, bcd, binary or hex)"#,
    );
    says(
        r#"{ number = 12, name = "Time", length = "fixed", max = 0, class = "n" }"#,
        "t.toml: field 12 (Time): max must be at least 1, got 0",
    );
    says(
        r#"{ number = 35, name = "Track 2", length = "LL", max = 200, class = "z" }"#,
        "t.toml: field 35 (Track 2): an LL prefix holds at most 99, but max is 200",
    );
    says(
        r#"{ number = 11, name = "STAN again", length = "fixed", max = 6, class = "n" }"#,
        "t.toml: field 11 (STAN again): defined twice",
    );
    let e = refused(r#"{ number = 11, name = "STAN again", length = "fixed", max = 6, class = "n" }"#);
    assert_eq!(
        (e.origin(), e.field(), e.problem()),
        ("t.toml", Some(11), "defined twice")
    );
}

#[test]
fn length_limits() {
    says(
        r#"{ number = 24, name = "NII", length = "L", max = 10, class = "n" }"#,
        "t.toml: field 24 (NII): an L prefix holds at most 9, but max is 10",
    );
    says(
        r#"{ number = 48, name = "Private", length = "LLL", max = 1000, class = "ans" }"#,
        "t.toml: field 48 (Private): an LLL prefix holds at most 999, but max is 1000",
    );
    says(
        r#"{ number = 62, name = "Big", length = "LLLL", max = 10000, class = "ans" }"#,
        "t.toml: field 62 (Big): max must be at most 9999, got 10000",
    );
    says(
        r#"{ number = 4, name = "Amount", length = "fixed", max = -1, class = "n" }"#,
        "t.toml: field 4 (Amount): max must be at least 1, got -1",
    );
    says(
        r#"{ number = 4, name = "Amount", length = "LLLLL", max = 12, class = "n" }"#,
        r#"t.toml: field 4 (Amount): unknown length "LLLLL" (expected fixed, L, LL, LLL or LLLL)"#,
    );
    // The limits themselves are fine.
    for f in [
        r#"{ number = 24, name = "NII", length = "L", max = 9, class = "n" }"#,
        r#"{ number = 48, name = "Private", length = "LLL", max = 999, class = "ans" }"#,
        r#"{ number = 62, name = "Big", length = "LLLL", max = 9999, class = "ans" }"#,
    ] {
        assert!(Spec::from_toml(&with_field(f), "t.toml").is_ok(), "{f}");
    }
}

#[test]
fn field_numbers_outside_2_to_192_or_65() {
    for (n, shown) in [(1, "1"), (65, "65"), (193, "193"), (0, "0")] {
        says(
            &format!(r#"{{ number = {n}, name = "X", length = "fixed", max = 1, class = "n" }}"#),
            &format!(
                "t.toml: field {shown} (X): number must be 2-192 (1 and 65 are bitmap bits, not data elements), got {n}"
            ),
        );
    }
    let e = refused(r#"{ number = -5, name = "X", length = "fixed", max = 1, class = "n" }"#);
    assert!(e.problem().ends_with("got -5"), "{e}");
    // 2, 64, 66 and 192 are data elements.
    for n in [2, 64, 66, 192] {
        let f = format!(r#"{{ number = {n}, name = "X", length = "fixed", max = 1, class = "n" }}"#);
        let spec = Spec::from_toml(&with_field(&f), "t.toml").unwrap();
        assert_eq!(spec.field(n as u8).unwrap().name(), "X");
    }
}

#[test]
fn classes_and_encodings_that_do_not_go_together() {
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "nn" }"#,
        r#"t.toml: field 2 (PAN): unknown class "nn" (expected n, a, an, ans, b, z or xn)"#,
    );
    says(
        r#"{ number = 43, name = "Name", length = "fixed", max = 40, class = "ans", encoding = "bcd" }"#,
        "t.toml: field 43 (Name): bcd encoding holds only classes n and z, not ans",
    );
    says(
        r#"{ number = 43, name = "Name", length = "fixed", max = 40, class = "ans", encoding = "hex" }"#,
        "t.toml: field 43 (Name): hex encoding needs class b, not ans",
    );
    says(
        r#"{ number = 4, name = "Amount", length = "fixed", max = 12, class = "n", encoding = "binary" }"#,
        "t.toml: field 4 (Amount): binary encoding needs class b, not n",
    );
    says(
        r#"{ number = 52, name = "PIN", length = "fixed", max = 8, class = "b" }"#,
        "t.toml: field 52 (PIN): class b needs encoding binary or hex",
    );
    says(
        r#"{ number = 52, name = "PIN", length = "fixed", max = 15, class = "b", encoding = "hex" }"#,
        "t.toml: field 52 (PIN): hex content needs an even number of characters, but max is 15",
    );
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", unit = "digits" }"#,
        "t.toml: field 2 (PAN): unit digits applies only to bcd encoding",
    );
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", unit = "nibbles" }"#,
        r#"t.toml: field 2 (PAN): unknown unit "nibbles" (expected bytes or digits)"#,
    );
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", prefix = "bcdd" }"#,
        r#"t.toml: field 2 (PAN): unknown prefix encoding "bcdd" (expected ascii, ebcdic, bcd or binary)"#,
    );
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", encoding = "bcd", odd_pad = "left-1" }"#,
        r#"t.toml: field 2 (PAN): unknown odd_pad "left-1" (expected left-0, left-f, right-0 or right-f)"#,
    );
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", sensitivity = "card" }"#,
        r#"t.toml: field 2 (PAN): unknown sensitivity "card" (expected pan, track, secret or none)"#,
    );
}

#[test]
fn padding_rules() {
    says(
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", pad = "zeros" }"#,
        "t.toml: field 2 (PAN): pad applies only to fixed-length fields",
    );
    says(
        r#"{ number = 43, name = "Name", length = "fixed", max = 40, class = "ans", pad = "zeros" }"#,
        "t.toml: field 43 (Name): zero padding needs class n, not ans",
    );
    says(
        r#"{ number = 4, name = "Amount", length = "fixed", max = 12, class = "n", pad = "spaces" }"#,
        "t.toml: field 4 (Amount): space padding needs class ans, not n",
    );
    says(
        r#"{ number = 4, name = "Amount", length = "fixed", max = 12, class = "n", pad = "left" }"#,
        r#"t.toml: field 4 (Amount): unknown pad "left" (expected none, zeros or spaces)"#,
    );
}

#[test]
fn whole_file_problems() {
    let top = |mti: &str, bitmap: &str| format!("name = \"t\"\nmti = \"{mti}\"\nbitmap = \"{bitmap}\"\n");
    let e = Spec::from_toml(&top("bin", "hex"), "t.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"t.toml: unknown MTI encoding "bin" (expected ascii, ebcdic or bcd)"#
    );
    assert_eq!(e.field(), None);
    let e = Spec::from_toml(&top("ascii", "raw"), "t.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"t.toml: unknown bitmap encoding "raw" (expected binary or hex)"#
    );
    // Not TOML, an unknown key, a missing key: named as the file's problem.
    let e = Spec::from_toml("name = ", "t.toml").unwrap_err();
    assert!(e.to_string().starts_with("t.toml: not a valid spec file: "), "{e}");
    let e = Spec::from_toml(
        &with_field(r#"{ number = 2, name = "PAN", length = "LL", maxx = 19, class = "n" }"#),
        "t.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("maxx"), "{e}");
    let e = Spec::from_toml("name = \"t\"\nmti = \"ascii\"\n", "t.toml").unwrap_err();
    assert!(e.to_string().contains("bitmap"), "{e}");
}

#[test]
fn defaults_and_field_attributes() {
    let spec = Spec::from_toml(
        r#"
        name = "pos"
        description = "A POS host."
        mti = "bcd"
        bitmap = "binary"
        defaults = { encoding = "bcd", prefix = "bcd" }
        fields = [
          { number = 2, name = "PAN", length = "LL", max = 19, class = "n", sensitivity = "pan" },
          { number = 35, name = "Track 2", length = "LL", max = 37, class = "z", odd_pad = "right-f", sensitivity = "track" },
          { number = 41, name = "Terminal", length = "fixed", max = 8, class = "ans", pad = "spaces" },
          { number = 44, name = "Extra", length = "LL", max = 25, class = "an", encoding = "ebcdic", prefix = "binary" },
          { number = 52, name = "PIN", length = "fixed", max = 8, class = "b", encoding = "binary", sensitivity = "secret" },
          { number = 61, name = "Bytes", length = "LLL", max = 10, class = "n", unit = "bytes" },
        ]"#,
        "pos.toml",
    )
    .unwrap();
    assert_eq!((spec.name(), spec.description()), ("pos", "A POS host."));
    assert_eq!(spec.mti_encoding(), MtiEncoding::Bcd);
    assert_eq!(spec.bitmap_encoding(), BitmapEncoding::Binary);
    assert_eq!(
        spec.fields().map(|f| f.number()).collect::<Vec<_>>(),
        [2, 35, 41, 44, 52, 61]
    );

    let pan = spec.field(2).unwrap();
    assert_eq!(pan.length(), LengthKind::Variable(2));
    assert_eq!(
        (pan.encoding(), pan.prefix(), pan.unit()),
        (Encoding::Bcd, PrefixEncoding::Bcd, LengthUnit::Digits)
    );
    assert_eq!(
        (pan.odd_pad(), pan.pad(), pan.class()),
        (OddPad::LeftZero, FixedPad::None, ContentClass::N)
    );
    assert_eq!(spec.field(35).unwrap().odd_pad(), OddPad::RightF);
    // A spec-wide bcd default applies to n and z only: text stays ASCII.
    let term = spec.field(41).unwrap();
    assert_eq!(
        (term.encoding(), term.pad(), term.length()),
        (Encoding::Ascii, FixedPad::RightSpaces, LengthKind::Fixed)
    );
    let extra = spec.field(44).unwrap();
    assert_eq!(
        (extra.encoding(), extra.prefix()),
        (Encoding::Ebcdic, PrefixEncoding::Binary)
    );
    assert!(spec.field(52).unwrap().is_binary());
    assert_eq!(spec.field(61).unwrap().unit(), LengthUnit::Bytes);
    assert!(spec.field(3).is_none());
    // Sensitivities become the spec's masks.
    let masks = spec.masks();
    assert_eq!(masks.of(2), Sensitivity::Pan);
    assert_eq!(masks.of(35), Sensitivity::Track);
    assert_eq!(masks.of(52), Sensitivity::Secret);
    assert_eq!(masks.of(41), Sensitivity::None);
    // Without defaults, fields are ASCII with ASCII prefixes.
    let plain = Spec::from_toml(
        &with_field(r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n" }"#),
        "t",
    )
    .unwrap();
    let pan = plain.field(2).unwrap();
    assert_eq!(
        (pan.encoding(), pan.prefix(), pan.unit()),
        (Encoding::Ascii, PrefixEncoding::Ascii, LengthUnit::Bytes)
    );
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("iso8583-spec-test-{}-{tag}.toml", std::process::id()))
}

#[test]
fn load_a_spec_file_from_disk() {
    let path = temp_path("good");
    std::fs::write(
        &path,
        with_field(r#"{ number = 70, name = "Network Code", length = "fixed", max = 3, class = "n" }"#),
    )
    .unwrap();
    let loaded = Spec::load(path.to_str().unwrap());
    std::fs::remove_file(&path).unwrap();
    let spec = loaded.unwrap();
    assert_eq!(spec.name(), "t");
    assert_eq!(spec.field(70).unwrap().name(), "Network Code");
    let m = iso8583_client::Message::new("0800".parse().unwrap())
        .with(11, "000001")
        .with(70, "301");
    let expected = concat!("0800", "8020000000000000", "0400000000000000", "000001", "301");
    assert_eq!(&spec.encode(&m).unwrap()[..], expected.as_bytes());

    // A bad file on disk: the error names the path.
    let path = temp_path("bad");
    std::fs::write(
        &path,
        with_field(r#"{ number = 35, name = "Track 2", length = "LL", max = 200, class = "z" }"#),
    )
    .unwrap();
    let err = Spec::load(path.to_str().unwrap()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: field 35 (Track 2): an LL prefix holds at most 99, but max is 200",
            path.display()
        )
    );
    assert_eq!(err.origin(), path.to_str().unwrap());
}

#[test]
fn load_a_missing_path() {
    let path = temp_path("missing");
    let err = Spec::load(path.to_str().unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read: ", path.display())),
        "{err}"
    );
    assert_eq!(err.field(), None);
}

#[test]
fn builtin_specs() {
    for name in BUILTIN_SPECS {
        let spec = Spec::builtin(name).unwrap();
        assert_eq!(spec.name(), name);
        assert!(!spec.description().is_empty());
        assert_eq!(spec.fields().count(), 126, "{name}: DE 2-128 without 65");
        assert!(spec.field(65).is_none() && spec.field(1).is_none() && spec.field(129).is_none());
        // Spec::load prefers a built-in name, and built-ins are shared.
        let again = Spec::load(name).unwrap();
        assert!(std::sync::Arc::ptr_eq(&spec, &again));
        assert_eq!(spec.masks().of(2), Sensitivity::Pan);
        assert_eq!(spec.masks().of(35), Sensitivity::Track);
        assert_eq!(spec.masks().of(52), Sensitivity::Secret);
        assert_eq!(spec.masks().of(11), Sensitivity::None);
    }
    assert!(Spec::builtin("iso87-nope").is_none());
    let bcd = Spec::builtin("iso87-bcd").unwrap();
    assert_eq!(
        (bcd.mti_encoding(), bcd.bitmap_encoding()),
        (MtiEncoding::Bcd, BitmapEncoding::Binary)
    );
    let ascii = Spec::builtin("iso87-ascii").unwrap();
    assert_eq!(
        (ascii.mti_encoding(), ascii.bitmap_encoding()),
        (MtiEncoding::Ascii, BitmapEncoding::Hex)
    );
    assert_eq!(ascii.field(52).unwrap().encoding(), Encoding::Hex);
    let bin = Spec::builtin("iso87-ascii-binary-bitmap").unwrap();
    assert_eq!(bin.bitmap_encoding(), BitmapEncoding::Binary);
    assert_eq!(bin.field(52).unwrap().encoding(), Encoding::Binary);
}
