//! Unit tests of the vector runner: file names, the differences file, the SDM-based
//! selectors and one hand-made test run end to end.

use super::*;

#[test]
fn form_names() {
    assert_eq!(form_of_file("80.3.json.gz").as_deref(), Some("80.3"));
    assert_eq!(form_of_file("a4.json").as_deref(), Some("A4"));
    assert_eq!(form_of_file("metadata.json"), None);
    assert_eq!(form_of_file("README.md"), None);
}

#[test]
fn differences_parse_and_reject() {
    let d = Differences::parse(
        "# c\n*  all   init-flags=0FFF reason one\n8C modrm-reg=4,5 skip FS/GS exist\n",
    )
    .unwrap();
    assert_eq!(d.rules.len(), 2);
    assert_eq!(d.rules[1].select, Select::ModrmReg(vec![4, 5]));
    assert!(
        Differences::parse("9D all skip").is_err(),
        "reason required"
    );
    assert!(Differences::parse("9D some skip x").is_err());
}

/// A hand-made test: NOP at 0000:0100 then HLT; a wrong expectation must fail.
#[test]
fn runs_a_nop_and_detects_mismatch() {
    let json = r#"[{"idx":0,"name":"nop","bytes":[144,244],
      "initial":{"regs":{"ax":1,"bx":0,"cx":0,"dx":0,"cs":0,"ss":0,"ds":0,"es":0,
        "sp":256,"bp":0,"si":0,"di":0,"ip":256,"flags":2},"ram":[[256,144],[257,244]]},
      "final":{"regs":{"ip":258},"ram":[]},"hash":"x"},
      {"idx":1,"name":"nop","bytes":[144,244],
      "initial":{"regs":{"ax":1,"bx":0,"cx":0,"dx":0,"cs":0,"ss":0,"ds":0,"es":0,
        "sp":256,"bp":0,"si":0,"di":0,"ip":256,"flags":2},"ram":[[256,144],[257,244]]},
      "final":{"regs":{"ip":258,"ax":2},"ram":[]},"hash":"y"}]"#;
    let tests = parse_tests(json.as_bytes(), false).unwrap();
    let mut r = Runner::new();
    let res = r.run_form(
        "90",
        &tests,
        &Metadata::default(),
        &Differences::default(),
        9,
    );
    assert_eq!((res.passed, res.failed), (1, 1));
    assert_eq!(
        res.failures[0].2,
        vec!["ax: got 0001 want 0002".to_string()]
    );
    assert!(r.m.core.mem.ram[256..258].iter().all(|&b| b == 0));
}
fn one(bytes: &[u8], regs: &str, exc: Option<u8>) -> Test {
    let exc = exc.map_or(String::new(), |n| {
        format!(r#","exception":{{"number":{n},"flag_address":0}}"#)
    });
    let json = format!(
        r#"[{{"idx":7,"name":"x","bytes":{bytes:?},"initial":{{"regs":{{{regs}}},"ram":[]}},
          "final":{{"regs":{{}},"ram":[]}}{exc}}}]"#
    );
    parse_tests(json.as_bytes(), false).unwrap().remove(0)
}

#[test]
fn selectors_follow_the_sdm_rules() {
    // LOCK ADD [BX+SI],AL is lockable; LOCK ADD AL,AL and LOCK MOV are #UD on an i686.
    assert!(!one(&[0xF0, 0x00, 0x00, 0xF4], "", None).lock_invalid());
    assert!(one(&[0xF0, 0x00, 0xC0, 0xF4], "", None).lock_invalid());
    assert!(one(&[0x2E, 0xF0, 0x88, 0x00, 0xF4], "", None).lock_invalid());
    assert!(!one(&[0x88, 0x00, 0xF4], "", None).lock_invalid());
    // POP ES at SP=FFFF and ADD [BP+SI],AX are SS faults; ADD [SI],AX is a DS one.
    assert!(one(&[0x07, 0xF4], r#""sp":65535"#, Some(13)).ss_fault());
    assert!(one(&[0x01, 0x02, 0xF4], r#""bp":0,"si":65535"#, Some(13)).ss_fault());
    assert!(!one(&[0x01, 0x04, 0xF4], r#""si":65535"#, Some(13)).ss_fault());
    assert!(!one(&[0x07, 0xF4], r#""sp":65535"#, Some(6)).ss_fault());
    // SS: LODSW reaching SI=FFFF under REP after one iteration; ES:DI first for MOVSW.
    let lods = one(
        &[0xF3, 0x36, 0xAD, 0xF4],
        r#""si":65533,"cx":3,"flags":2"#,
        Some(13),
    );
    assert!(lods.ss_fault());
    let movs = r#""si":65533,"di":65535,"cx":3,"flags":2"#;
    assert!(!one(&[0xF3, 0x36, 0xA5, 0xF4], movs, Some(13)).ss_fault());
    let d = Differences::parse("* longer-than=10 skip long\n").unwrap();
    let long = one(
        &[0x2E; 11]
            .iter()
            .chain(&[0x90, 0xF4])
            .copied()
            .collect::<Vec<_>>(),
        "",
        None,
    );
    assert!(d.rules[0].applies("90", &long));
    assert!(!d.rules[0].applies("90", &one(&[0x90, 0xF4], "", None)));
}
