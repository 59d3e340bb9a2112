;; WebAssembly SIMD loops for the wasm backend's training kernels (arb/kernels/simd.ts), run on
;; tfjs's own heap (the memory is imported). Compiled by `deno task build-simd` into simd_wasm.ts.
;;
;; Layout: x is [p, c] float32, row-major, c a multiple of 4; per-channel vectors are float32
;; [c] unless said float64. All pointers are byte offsets into the memory. The main thread
;; calls these between tfjs kernels, so nothing else touches the memory meanwhile.
(module
  (import "env" "memory" (memory 1))

  ;; f64 accumulators acc[j..j+4] += promote(v) for a 4-lane float32 vector v.
  (func $acc4 (param $acc i32) (param $v v128)
    (v128.store offset=0 (local.get $acc)
      (f64x2.add (v128.load offset=0 (local.get $acc)) (f64x2.promote_low_f32x4 (local.get $v))))
    (v128.store offset=16 (local.get $acc)
      (f64x2.add (v128.load offset=16 (local.get $acc))
        (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))

  ;; Batch-norm statistics: s1[j] += x - shift[j], s2[j] += (x - shift[j])^2 (float64 s1, s2).
  (func (export "bn_stats")
    (param $x i32) (param $p i32) (param $c i32) (param $shift i32) (param $s1 i32) (param $s2 i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $d v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $d
            (f32x4.sub (v128.load (local.get $x))
              (v128.load (i32.add (local.get $shift) (local.get $j)))))
          (call $acc4 (i32.add (local.get $s1) (i32.shl (local.get $j) (i32.const 1))) (local.get $d))
          (call $acc4 (i32.add (local.get $s2) (i32.shl (local.get $j) (i32.const 1)))
            (f32x4.mul (local.get $d) (local.get $d)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))

  ;; y = max(x * scale[j] + offset[j], floor) with floor 0 (fused ReLU) or -infinity.
  (func (export "bn_apply")
    (param $x i32) (param $y i32) (param $p i32) (param $c i32) (param $scale i32)
    (param $offset i32) (param $relu i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $floor v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $floor
      (select (v128.const f32x4 0 0 0 0) (v128.const f32x4 -inf -inf -inf -inf) (local.get $relu)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (v128.store (local.get $y)
            (f32x4.max
              (f32x4.add
                (f32x4.mul (v128.load (local.get $x))
                  (v128.load (i32.add (local.get $scale) (local.get $j))))
                (v128.load (i32.add (local.get $offset) (local.get $j))))
              (local.get $floor)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))

  ;; dy masked by y > 0 when relu is set (else kept whole).
  (func $masked (param $dy v128) (param $y v128) (param $keep v128) (result v128)
    (v128.and (local.get $dy)
      (v128.or (f32x4.gt (local.get $y) (v128.const f32x4 0 0 0 0)) (local.get $keep))))

  ;; Gradient sums: sg[j] += g, sgx[j] += g * (x - mean[j]), g = masked dy (float64 sg, sgx).
  (func (export "bn_grad_stats")
    (param $dy i32) (param $x i32) (param $y i32) (param $p i32) (param $c i32) (param $mean i32)
    (param $sg i32) (param $sgx i32) (param $relu i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $g v128) (local $keep v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $keep
      (select (v128.const i32x4 0 0 0 0) (v128.const i32x4 -1 -1 -1 -1) (local.get $relu)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $g
            (call $masked (v128.load (local.get $dy)) (v128.load (local.get $y)) (local.get $keep)))
          (call $acc4 (i32.add (local.get $sg) (i32.shl (local.get $j) (i32.const 1))) (local.get $g))
          (call $acc4 (i32.add (local.get $sgx) (i32.shl (local.get $j) (i32.const 1)))
            (f32x4.mul (local.get $g)
              (f32x4.sub (v128.load (local.get $x))
                (v128.load (i32.add (local.get $mean) (local.get $j))))))
          (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))

  ;; dx = k[j] * g + a[j] * x + d[j], g = masked dy.
  (func (export "bn_grad_apply")
    (param $dy i32) (param $x i32) (param $y i32) (param $dx i32) (param $p i32) (param $c i32)
    (param $k i32) (param $a i32) (param $d i32) (param $relu i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $keep v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $keep
      (select (v128.const i32x4 0 0 0 0) (v128.const i32x4 -1 -1 -1 -1) (local.get $relu)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (v128.store (local.get $dx)
            (f32x4.add
              (f32x4.add
                (f32x4.mul (v128.load (i32.add (local.get $k) (local.get $j)))
                  (call $masked (v128.load (local.get $dy)) (v128.load (local.get $y))
                    (local.get $keep)))
                (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $j)))
                  (v128.load (local.get $x))))
              (v128.load (i32.add (local.get $d) (local.get $j)))))
          (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))
;; Filter gradient of a conv with few input channels, without im2col: for every output pixel,
  ;; dw[i, j, c, :] += x[n, y*sh + i - pt, x*sw + j - pl, c] * dy[n, y, x, :] (dw zeroed by the
  ;; caller, co a multiple of 4, taps outside the image skipped).
  (func (export "conv_filter_grad_direct")
    (param $x i32) (param $dy i32) (param $dw i32) (param $n i32) (param $h i32) (param $w i32)
    (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32) (param $kh i32) (param $kw i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $i i32) (local $j i32) (local $c i32)
    (local $iy i32) (local $ix i32) (local $q i32) (local $cob i32) (local $acc i32)
    (local $src i32) (local $xv v128) (local $dyrow i32)
    (local.set $cob (i32.shl (local.get $co) (i32.const 2)))
    (local.set $dyrow (local.get $dy))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $oy (i32.const 0))
      (block $ydone (loop $yl
        (br_if $ydone (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $xdone (loop $xl
          (br_if $xdone (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $i (i32.const 0))
          (block $idone (loop $il
            (br_if $idone (i32.ge_u (local.get $i) (local.get $kh)))
            (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sh)) (local.get $i))
              (local.get $pt)))
            ;; unsigned compare: a negative row wraps around and is skipped too
            (if (i32.lt_u (local.get $iy) (local.get $h)) (then
              (local.set $j (i32.const 0))
              (block $jdone (loop $jl
                (br_if $jdone (i32.ge_u (local.get $j) (local.get $kw)))
                (local.set $ix (i32.sub
                  (i32.add (i32.mul (local.get $ox) (local.get $sw)) (local.get $j)) (local.get $pl)))
                (if (i32.lt_u (local.get $ix) (local.get $w)) (then
                  ;; src = &x[b, iy, ix, 0]; acc = &dw[i, j, 0, 0]
                  (local.set $src (i32.add (local.get $x) (i32.shl
                    (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h))
                      (local.get $iy)) (local.get $w)) (local.get $ix)) (local.get $ci))
                    (i32.const 2))))
                  (local.set $acc (i32.add (local.get $dw) (i32.mul
                    (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j))
                      (local.get $ci))
                    (local.get $cob))))
                  (local.set $c (i32.const 0))
                  (block $cdone (loop $cl
                    (br_if $cdone (i32.ge_u (local.get $c) (local.get $ci)))
                    (local.set $xv (v128.load32_splat (local.get $src)))
                    (local.set $q (i32.const 0))
                    (loop $ql
                      (v128.store (i32.add (local.get $acc) (local.get $q))
                        (f32x4.add (v128.load (i32.add (local.get $acc) (local.get $q)))
                          (f32x4.mul (local.get $xv)
                            (v128.load (i32.add (local.get $dyrow) (local.get $q))))))
                      (local.set $q (i32.add (local.get $q) (i32.const 16)))
                      (br_if $ql (i32.lt_u (local.get $q) (local.get $cob))))
                    (local.set $src (i32.add (local.get $src) (i32.const 4)))
                    (local.set $acc (i32.add (local.get $acc) (local.get $cob)))
                    (local.set $c (i32.add (local.get $c) (i32.const 1)))
                    (br $cl)))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jl)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $il)))
          (local.set $dyrow (i32.add (local.get $dyrow) (local.get $cob)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $xl)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))
)
