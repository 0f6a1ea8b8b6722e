# Day before month, and the time zone: "6 December 2026, 14:00 UTC", never "12/06/2026"
# (read as June in most of the world). Pages rewrite <time> elements in the viewer's
# own locale and time zone (static/js/when.js); this is what is read without script.
DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i T"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
