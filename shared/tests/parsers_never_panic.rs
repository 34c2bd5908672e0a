//! Every parser of user input answers any string with a value or an error
//! message, never a panic: fuzz the CLI parsers.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn units_never_panic(s in ".{0,40}") {
        let _ = kvmfi::units::parse_duration(&s);
        let _ = kvmfi::units::parse_size(&s);
        let _ = kvmfi::units::parse_percent(&s);
    }

    #[test]
    fn errno_never_panics(s in ".{0,24}") {
        if let Ok(v) = kvmfi::errno::parse(&s) {
            prop_assert!((1..=4095).contains(&v));
        }
    }

    #[test]
    fn numeric_like_inputs(n in any::<i64>(), unit in "(|ms|s|m|h|d|k|M|G|T|%|x)") {
        let s = format!("{n}{unit}");
        let _ = kvmfi::units::parse_duration(&s);
        let _ = kvmfi::units::parse_size(&s);
        let _ = kvmfi::units::parse_percent(&s);
    }

    #[test]
    fn cluster_conf_never_panics(s in "(?s).{0,300}") {
        let _ = kvmfi::clusterconf::parse(&s);
    }

    #[test]
    fn cluster_conf_near_valid(lines in proptest::collection::vec("[a-zA-Z0-9.,:# -]{0,40}", 0..8)) {
        let _ = kvmfi::clusterconf::parse(&lines.join("\n"));
    }

    #[test]
    fn clap_error_folding_never_panics(s in "(?s).{0,200}") {
        let line = kvmfi::cliparse::one_line(&s);
        prop_assert!(!line.contains('\n'));
    }

    #[test]
    fn errno_round_trips(v in 1i32..=133) {
        let name = kvmfi::errno::name(v);
        if name.starts_with('E') {
            prop_assert_eq!(kvmfi::errno::parse(&name).unwrap(), v);
        }
    }
}
