(module
  ;; Declares an input schema whose recursive `anyOf` doubles the work at each level of
  ;; nesting. Refused at load.
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (data (i32.const 1200) "{\"$defs\":{\"n\":{\"anyOf\":[{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}},{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}}]}},\"$ref\":\"#/$defs/n\"}")
  ;; The action's input schema (action-info at 600, input at 616).
  (data (i32.const 616) "\b0\04\00\00\8a\00\00\00")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
