require ["reject","ereject"]; if address :domain "from" "example.org" { reject "no"; }
