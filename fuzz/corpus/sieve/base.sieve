if size :over 1K { discard; } elsif not exists "x" { stop; } else { keep; }
/* c */ # d
