require ["vacation","envelope","subaddress","copy"];
if envelope :detail "to" "d" { redirect :copy "z@example.com"; }
vacation :days 2 :subject "away" text:
Away.
..
.
;
