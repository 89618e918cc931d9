//! The EMV tag dictionary (EMV 4.3 Book 3 Annex A, and the common scheme tags): names and masking.

use std::sync::{Arc, OnceLock};

use super::composite::{TagInfo, TagTable};
use super::Sensitivity;

use Sensitivity::{None as Clear, Pan, Secret, Track};

/// Tag, name, sensitivity; sorted by tag.
const EMV: &[(u32, &str, Sensitivity)] = &[
    (0x42, "Issuer Identification Number (IIN)", Clear),
    (0x4F, "Application Identifier (AID) - card", Clear),
    (0x50, "Application Label", Clear),
    (0x56, "Track 1 Data", Track),
    (0x57, "Track 2 Equivalent Data", Track),
    (0x5A, "Application Primary Account Number (PAN)", Pan),
    (0x61, "Application Template", Clear),
    (0x6F, "File Control Information (FCI) Template", Clear),
    (0x70, "READ RECORD Response Message Template", Clear),
    (0x71, "Issuer Script Template 1", Clear),
    (0x72, "Issuer Script Template 2", Clear),
    (0x77, "Response Message Template Format 2", Clear),
    (0x80, "Response Message Template Format 1", Clear),
    (0x82, "Application Interchange Profile", Clear),
    (0x84, "Dedicated File (DF) Name", Clear),
    (0x86, "Issuer Script Command", Clear),
    (0x8A, "Authorisation Response Code", Clear),
    (0x8C, "Card Risk Management Data Object List 1 (CDOL1)", Clear),
    (0x8D, "Card Risk Management Data Object List 2 (CDOL2)", Clear),
    (0x8E, "Cardholder Verification Method (CVM) List", Clear),
    (0x91, "Issuer Authentication Data", Clear),
    (0x95, "Terminal Verification Results", Clear),
    (0x9A, "Transaction Date", Clear),
    (0x9B, "Transaction Status Information", Clear),
    (0x9C, "Transaction Type", Clear),
    (0x5F20, "Cardholder Name", Secret),
    (0x5F24, "Application Expiration Date", Clear),
    (0x5F25, "Application Effective Date", Clear),
    (0x5F28, "Issuer Country Code", Clear),
    (0x5F2A, "Transaction Currency Code", Clear),
    (0x5F2D, "Language Preference", Clear),
    (0x5F30, "Service Code", Clear),
    (0x5F34, "Application PAN Sequence Number", Clear),
    (0x9F01, "Acquirer Identifier", Clear),
    (0x9F02, "Amount, Authorised (Numeric)", Clear),
    (0x9F03, "Amount, Other (Numeric)", Clear),
    (0x9F06, "Application Identifier (AID) - terminal", Clear),
    (0x9F07, "Application Usage Control", Clear),
    (0x9F08, "Application Version Number (card)", Clear),
    (0x9F09, "Application Version Number (terminal)", Clear),
    (0x9F0B, "Cardholder Name Extended", Secret),
    (0x9F0D, "Issuer Action Code - Default", Clear),
    (0x9F0E, "Issuer Action Code - Denial", Clear),
    (0x9F0F, "Issuer Action Code - Online", Clear),
    (0x9F10, "Issuer Application Data", Clear),
    (0x9F11, "Issuer Code Table Index", Clear),
    (0x9F12, "Application Preferred Name", Clear),
    (0x9F15, "Merchant Category Code", Clear),
    (0x9F16, "Merchant Identifier", Clear),
    (0x9F1A, "Terminal Country Code", Clear),
    (0x9F1C, "Terminal Identification", Clear),
    (0x9F1E, "Interface Device (IFD) Serial Number", Clear),
    (0x9F1F, "Track 1 Discretionary Data", Secret),
    (0x9F20, "Track 2 Discretionary Data", Secret),
    (0x9F21, "Transaction Time", Clear),
    (0x9F26, "Application Cryptogram", Clear),
    (0x9F27, "Cryptogram Information Data", Clear),
    (0x9F33, "Terminal Capabilities", Clear),
    (0x9F34, "Cardholder Verification Method (CVM) Results", Clear),
    (0x9F35, "Terminal Type", Clear),
    (0x9F36, "Application Transaction Counter (ATC)", Clear),
    (0x9F37, "Unpredictable Number", Clear),
    (0x9F39, "Point-of-Service (POS) Entry Mode", Clear),
    (0x9F40, "Additional Terminal Capabilities", Clear),
    (0x9F41, "Transaction Sequence Counter", Clear),
    (0x9F4E, "Merchant Name and Location", Clear),
    (0x9F53, "Transaction Category Code", Clear),
    (0x9F5B, "Issuer Script Results", Clear),
    (0x9F66, "Terminal Transaction Qualifiers (TTQ)", Clear),
    (0x9F6B, "Track 2 Data", Track),
    (0x9F6C, "Card Transaction Qualifiers (CTQ)", Clear),
    (0x9F6E, "Form Factor Indicator / Third Party Data", Clear),
    (0x9F7C, "Customer Exclusive Data", Clear),
];

/// The EMV dictionary as a sorted table, built once.
pub(crate) fn emv_tags() -> TagTable {
    static TABLE: OnceLock<TagTable> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let v: Vec<TagInfo> = EMV
                .iter()
                .map(|&(tag, name, sensitivity)| TagInfo {
                    tag,
                    name: Arc::from(name),
                    sensitivity,
                })
                .collect();
            TagTable::new(v)
        })
        .clone()
}

/// A tag of the EMV dictionary, with its name and masking rule (`None` if not in the dictionary).
///
/// ```
/// use iso8583_client::spec::{emv_tag, Sensitivity};
/// assert_eq!(emv_tag(0x9F26).unwrap().name(), "Application Cryptogram");
/// assert_eq!(emv_tag(0x5F20).unwrap().sensitivity(), Sensitivity::Secret); // cardholder name
/// assert!(emv_tag(0xDF7F).is_none());
/// ```
pub fn emv_tag(tag: u32) -> Option<TagInfo> {
    emv_tags().get(tag).cloned()
}
