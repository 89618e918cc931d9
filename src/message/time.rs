//! Date and time elements (DE 7, 12, 13) with chrono.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

use super::Message;

fn digits(v: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = v.get(at..at + n)?;
    s.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// The year in which `month`/`day` falls nearest to `now` (DE 7 and 13 carry no year).
fn nearest_year(now: NaiveDate, month: u32, day: u32) -> Option<i32> {
    let y = now.year();
    [y - 1, y, y + 1]
        .into_iter()
        .filter_map(|yy| NaiveDate::from_ymd_opt(yy, month, day).map(|d| (yy, (d - now).num_days().abs())))
        .min_by_key(|&(_, dist)| dist)
        .map(|(yy, _)| yy)
}

impl Message {
    /// DE 7, transmission date and time (`MMDDhhmmss`, UTC), with the year that puts it nearest to `now`.
    pub fn transmission_time(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let v = self.get(7)?;
        if v.len() != 10 {
            return None;
        }
        let (mo, d) = (digits(v, 0, 2)?, digits(v, 2, 2)?);
        let (h, mi, s) = (digits(v, 4, 2)?, digits(v, 6, 2)?, digits(v, 8, 2)?);
        let year = nearest_year(now.date_naive(), mo, d)?;
        let naive = NaiveDate::from_ymd_opt(year, mo, d)?.and_hms_opt(h, mi, s)?;
        Some(Utc.from_utc_datetime(&naive))
    }

    /// Sets DE 7 from a UTC instant (`MMDDhhmmss`).
    pub fn set_transmission_time(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.set(7, t.format("%m%d%H%M%S").to_string())
    }

    /// DE 12, local transaction time (`hhmmss`).
    pub fn local_time(&self) -> Option<NaiveTime> {
        let v = self.get(12)?;
        if v.len() != 6 {
            return None;
        }
        NaiveTime::from_hms_opt(digits(v, 0, 2)?, digits(v, 2, 2)?, digits(v, 4, 2)?)
    }

    /// DE 13, local transaction date (`MMDD`), with the year that puts it nearest to `today`.
    pub fn local_date(&self, today: NaiveDate) -> Option<NaiveDate> {
        let v = self.get(13)?;
        if v.len() != 4 {
            return None;
        }
        let (mo, d) = (digits(v, 0, 2)?, digits(v, 2, 2)?);
        NaiveDate::from_ymd_opt(nearest_year(today, mo, d)?, mo, d)
    }

    /// DE 12 and DE 13 together, as a local date and time.
    pub fn local_datetime(&self, today: NaiveDate) -> Option<NaiveDateTime> {
        Some(self.local_date(today)?.and_time(self.local_time()?))
    }

    /// Sets DE 12 (`hhmmss`) and DE 13 (`MMDD`) from a local date and time.
    pub fn set_local_datetime(&mut self, t: NaiveDateTime) -> &mut Self {
        self.set(12, format!("{:02}{:02}{:02}", t.hour(), t.minute(), t.second()));
        self.set(13, format!("{:02}{:02}", t.month(), t.day()))
    }
}
