require ["vnd.postern.noautoreply", "fileinto"];
if header :contains "subject" "[list]" { noautoreply; fileinto "Lists"; }
