require ["imap4flags","relational","comparator-i;ascii-numeric","body"];
if anyof (header :count "ge" :comparator "i;ascii-numeric" "to" "1", body :contains "text") { addflag "\\Seen"; keep; }
