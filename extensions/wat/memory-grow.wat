(module
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (data (i32.const 2000) "\22refused\22")
  (data (i32.const 2016) "\22granted\22")
  ;; asks for 128 MiB more; the default limit is 64 MiB, so memory.grow must return -1
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (if (result i32) (i32.eq (memory.grow (i32.const 2048)) (i32.const -1))
      (then (call $ret (i32.const 0) (i32.const 2000) (i32.const 9)))
      (else (call $ret (i32.const 0) (i32.const 2016) (i32.const 9))))))
