"""Make the bundled AMLSim slice from the full AMLSim sample (reproducible, seed 0).

Usage: python sample_data/amlsim/slice.py ../shared/datasets/amlsim sample_data/amlsim

Subjects: the main account of every fan_in alert (the receiver) and fan_out alert (the
sender), the hub of every gather_scatter alert, and 300 randomly chosen other accounts.
Kept: every transaction sent or received by a subject (so each subject's activity is
complete), the accounts those transactions touch, and the alert rows of those accounts.
"""

import sys
from pathlib import Path

import pandas as pd

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
tx = pd.read_csv(src / "transactions.csv", dtype=str, keep_default_na=False)
acc = pd.read_csv(src / "accounts.csv", dtype=str, keep_default_na=False)
at = pd.read_csv(src / "alert_transactions.csv", dtype=str, keep_default_na=False)
aa = pd.read_csv(src / "alert_accounts.csv", dtype=str, keep_default_na=False)

subjects = set(at.loc[at.alert_type == "fan_in", "bene_acct"]) | set(at.loc[at.alert_type == "fan_out", "orig_acct"])
gs = at[at.alert_type == "gather_scatter"]
subjects |= set(gs.orig_acct) & set(gs.bene_acct)
others = acc.loc[~acc.acct_id.isin(subjects), "acct_id"].sample(300, random_state=0)
subjects |= set(others)

keep = tx[tx.orig_acct.isin(subjects) | tx.bene_acct.isin(subjects)]
touched = set(keep.orig_acct) | set(keep.bene_acct)
keep.to_csv(dst / "transactions.csv", index=False)
acc[acc.acct_id.isin(touched)].to_csv(dst / "accounts.csv", index=False)
aa[aa.acct_id.isin(touched)].to_csv(dst / "alert_accounts.csv", index=False)
at[at.tran_id.isin(set(keep.tran_id))].to_csv(dst / "alert_transactions.csv", index=False)
print(f"{len(keep)} transactions, {len(touched)} accounts, {len(subjects)} subjects")
