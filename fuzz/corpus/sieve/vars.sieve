require ["fileinto","variables"];
if header :matches "subject" "* hi [*]" { set "t" "${2}"; fileinto "T.${t}"; }
