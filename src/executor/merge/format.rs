//! Values printed the way the server prints them: decimals with exactly the column's number of
//! fraction digits, doubles in the shortest form that reads back to the same value.

use bigdecimal::{BigDecimal, RoundingMode};

use super::column::NOT_FIXED_DEC;

/// A decimal rounded half away from zero to `decimals` fraction digits, printed plainly.
pub fn format_decimal(v: &BigDecimal, decimals: u8) -> String {
    let rounded = v.with_scale_round(i64::from(decimals), RoundingMode::HalfUp);
    let (digits, _) = rounded.as_bigint_and_exponent();
    let text = digits.to_string();
    let (negative, abs) = match text.strip_prefix('-') {
        Some(abs) => (true, abs),
        None => (false, text.as_str()),
    };
    let d = usize::from(decimals);
    let mut abs = abs.to_string();
    if abs.len() <= d {
        abs = format!("{}{abs}", "0".repeat(d + 1 - abs.len()));
    }
    let (int, frac) = abs.split_at(abs.len() - d);
    let mut out = String::with_capacity(abs.len() + 2);
    if negative {
        out.push('-');
    }
    out.push_str(int);
    if d > 0 {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A double as MariaDB prints a column with `decimals` fraction digits (`NOT_FIXED_DEC` or
/// more: the shortest round-trip digits, in plain notation when the decimal exponent is
/// within -15..15, else as `1.5e-16` / `1e15`).
pub fn format_double(v: f64, decimals: u8) -> String {
    let v = if v == 0.0 { 0.0 } else { v };
    if decimals < NOT_FIXED_DEC {
        let s = format!("{v:.*}", usize::from(decimals));
        // "-0.00" when a small negative value rounds to zero: the server prints no sign.
        if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
            return s[1..].to_string();
        }
        return s;
    }
    let sci = format!("{v:e}");
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci.to_string();
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return sci.to_string();
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 20);
    if negative {
        out.push('-');
    }
    if (-15..15).contains(&exp) {
        let point = exp + 1;
        let len = digits.len() as i32;
        if point <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-point) as usize));
            out.push_str(&digits);
        } else if point >= len {
            out.push_str(&digits);
            out.push_str(&"0".repeat((point - len) as usize));
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push_str(&exp.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> BigDecimal {
        BigDecimal::from_str(s).expect("decimal")
    }

    #[test]
    fn decimals_have_exactly_the_columns_digits() {
        assert_eq!(format_decimal(&dec("3.75"), 3), "3.750");
        assert_eq!(format_decimal(&dec("0.03125"), 4), "0.0313");
        assert_eq!(format_decimal(&dec("-0.03125"), 4), "-0.0313");
        assert_eq!(format_decimal(&dec("6"), 0), "6");
        assert_eq!(format_decimal(&dec("0.5"), 0), "1");
        assert_eq!(format_decimal(&dec("-0.004"), 2), "0.00");
        assert_eq!(format_decimal(&dec("-12.5"), 2), "-12.50");
        assert_eq!(
            format_decimal(&dec("1e30"), 1),
            "1000000000000000000000000000000.0"
        );
    }

    /// Expected strings are what MariaDB 10.11 prints for the same doubles.
    #[test]
    fn doubles_print_like_mariadb() {
        let cases = [
            (1.5, "1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "1e20"),
            (1e14, "100000000000000"),
            (1e15, "1e15"),
            (123456789012345.0, "123456789012345"),
            (1234567890123456.0, "1.234567890123456e15"),
            (1.5e-10, "0.00000000015"),
            (1e-15, "0.000000000000001"),
            (1e-16, "1e-16"),
            (1.2345e-15, "0.0000000000000012345"),
            (-2.5, "-2.5"),
            (-0.0, "0"),
            (0.0, "0"),
            (1e301, "1e301"),
            (5e-324, "5e-324"),
            (1.6000000014901161, "1.6000000014901161"),
            (-1e14, "-100000000000000"),
        ];
        for (v, want) in cases {
            assert_eq!(format_double(v, NOT_FIXED_DEC), want, "{v:e}");
        }
        assert_eq!(format_double(2.3456, 2), "2.35");
        assert_eq!(format_double(-0.001, 2), "0.00");
    }
}
