"""Build the tokenizer conformance corpus (tests/plugins/data/tokenizer_corpus.txt): one radiology sentence per line.

Four parts: radzoo's synthetic reports (whole reports and their indications), hand-written edge cases for
every Penn Treebank rule a report can hit, template combinations of those rules, and punctuation-dense
jumbles of report words and numbers (all seeded, so the file is reproducible). The test
(tests/plugins/test_tokenizer_conformance.py) checks radzoo's ``simple`` tokenizer against
pycocoevalcap's Stanford PTBTokenizer on every line; bench/tokenizer_conformance.py counts the differences.

Run: python bench/tokenizer_corpus.py
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from radzoo.data.synthetic.findings import sample_truth
from radzoo.data.synthetic.reports import write_indication, write_report

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "tokenizer_corpus.txt"

EDGE_CASES = """\
Compared to the 8th of May and the 2nd study, the 1st, 3rd, 21st and 4th ribs are intact.
Old fracture of the right 7th rib and healed left 5th and 6th rib fractures.
Patient ID 4xxxx, XXXX-year-old XXXX, exam dated XX/XX/XXXX.
Mild cardiac enlargement.prominence of the hila is unchanged.
Heart size normal.lungs clear.no effusion.
Recommend chest ct.
Recommend chest CT. Follow up in 3 months.
Recommend chest ct. follow up as needed.
Further evaluation with CT, MRI, or PET/CT.
Comparison: PA and lateral views from 01/02/2019 and 2019-01-02 at 10:30 a.m.
Study performed at 12:30 p.m. and again at 5:45 pm.
The 3.5 x 2 cm nodule measures 3.5 x 2.1 x 1.8 cm, previously 3 x 2 cm.
A 3.5x2 cm opacity, a 3x4cm mass, a 10mm nodule and a 1.5cm nodule.
A 0.5 cm nodule and a .5 cm calcification, 1.25 mm thick.
The ETT is 4cm above the carina.NG tube is below the diaphragm.
There are 2 nodules.The largest is 1.2cm.
Dr. Smith discussed the findings with Mr. Jones at 3 p.m.
Atelectasis vs. pneumonia, e.g. in the lingula, i.e. the left upper lobe.
Effusions, atelectasis, etc. are unchanged, approx. 4 cm.
Osseous structures: T12 compression deformity, L1-L2 spondylosis, C5-6 fusion, T11-T12 hardware.
AP/lateral and PA/LAT views; and/or x-ray left-sided s/p CABG w/o change.
The patient's heart isn't enlarged and the patients' prior films aren't available.
It's unchanged; there's no effusion, we'd recommend follow-up, they're stable and I'm not concerned.
Pneumothorax can't be excluded and it won't resolve; don't miss it, cannot rule out, couldn't see it.
Lungs are "clear" and the so-called 'nodule' is a nipple shadow.
Left lower lobe (LLL) opacity [previously noted] {see prior} is unchanged.
Stable appearance... no change.... clear lungs.
Moderate effusion -- stable -- and a small pneumothorax - unchanged.
Mild-to-moderate edema (improved); left base opacity - atelectasis vs. pneumonia!? CANNOT exclude.
Impression: 1. No acute disease. 2. Stable cardiomegaly.
Impression:1.No acute disease.2.Stable.
XXXX XXXX. XXXX.
Chest x-XXXX, 2 views, dated XXXX.
Heart size is upper limits of normal, 50% cardiothoracic ratio, increased 5%.
Oxygen saturation 92% on 2L, temperature 38.5 C.
Right IJ central line tip at the cavoatrial junction, NG tube tip in the stomach.
T-spine, L-spine, mid-to-lower lungs, well-expanded, post-op changes, c/o pain.
Interval placement of a right PICC line with tip in the SVC.
Nodular opacity at the right base, 1.5-2.0 cm, and 3-4 mm calcified granulomas.
Calcified granuloma in the RUL, ~5 mm, and >1 cm nodule < 2 cm.
Findings discussed with Dr. XXXX at 10:15 on 3/4/2019 by telephone.
The lungs are hyperinflated consistent with COPD/emphysema.
No pneumothorax.No effusion.
Left-sided pleural effusion with adjacent atelectasis vs. consolidation.
Status post median sternotomy and CABG, with intact sternal wires #1-#6.
Minimal blunting of the right costophrenic angle (image 3 of 4).
Patient is a 45 y/o male with SOB and fever x 3 days.
There is a 1 1/2 cm nodule and a 2/3 reduction in effusion size.
Borderline heart size, CTR 0.5, unchanged from 2/14.
The heart is top-normal in size; the aorta is tortuous and calcified.
Single AP portable view of the chest at 0600 hours.
No focal airspace consolidation to suggest pneumonia.
Degenerative changes of the thoracic spine with anterior osteophytes at T8-T10.
ET tube 5 cm above the carina; OG tube courses below the diaphragm.
Tracheostomy tube in unchanged position; R PICC tip at the SVC/RA junction.
The 2nd and 3rd anterior ribs are obscured; see the 4th image.
Stable 8-mm nodule at the left apex and a stable 1-cm nodule at the right base.
Follow-up CT in 6-12 months is recommended per Fleischner guidelines.
Pleural effusion? Possibly; clinical correlation is recommended!
Hilar contours are unremarkable: no lymphadenopathy.
Visualized upper abdomen is unremarkable; no free air under the diaphragm.
He's stable, it's unchanged, don't worry, can't exclude, won't change, patient's and patients' films, isn't seen.
No acute cardiopulmonary process, (stable) since 2019-01-02; x-ray's view: PA.
The patient's heart isn't enlarged and/or the 3.5 cm nodule [previously 2.0 cm] is 50% smaller.
Lungs are "clear"... ETT 4 cm above the carina -- stable. Right IJ line; NG tube. 12:30 p.m. follow-up
There is a 3 1/2 cm nodule. Call 555-1234 or (555) 123-4567 for results.
The lungs are clear. The heart is normal. Type B. The aorta is normal.
Vitamin D. The lungs. Lead II. It is fine. Grade I. There is none.
No pneumothorax.The heart is normal.In the left lung, no effusion.
Right lung:clear;left lung:opacity.Heart:normal.
Heart size and mediastinal contour are normal.There is no focal airspace consolidation.No effusion.
Mild hyperexpansion of the lungs,flattening of the diaphragms.
1.Stable appearance of the chest.  2.No acute disease.
Heart size normal.  Lungs clear.  XXXX are normal.  Pulmonary vasculature normal.
Stable 1.7 cm right upper lobe nodule.A 0.8 x 0.6 cm nodule, 1x1 cm.
Left-sided Port-A-Cath with tip in the right atrium; Swan-Ganz catheter.
IVC filter, surgical clips in the RUQ. S/P cholecystectomy.
A 5-year-old with +5-year-old history, 1.5-2.0 cm and 3:5 ratio.
Images saved as image.png and report.pdf, see 2.c, and 3.x
Interval increase......1 new nodule.......2 new nodules.
Lung Mass. Left lt. base. Est. 3 cm. Sept. 2019. Jan. 5.
"""

SIZES = ["3.5 x 2 cm", "3 x 2.5 x 1 cm", "2.1x1.4 cm", "4 cm", "12 mm", "0.8 cm", "1.5cm", "10mm", "5-mm",
         "2-cm", "1.2 by 0.8 cm", "~3 cm", "3 cm.", "3.0 cm"]
FINDINGS = ["nodule", "opacity", "mass", "consolidation", "effusion", "pneumothorax", "granuloma", "atelectasis",
            "calcification", "infiltrate", "airspace disease", "interstitial edema"]
PLACES = ["right upper lobe", "left lower lobe", "RUL", "LLL", "lingula", "right base", "left apex",
          "retrocardiac region", "right mid lung", "left costophrenic angle", "XXXX region", "T8 level"]
ORDINALS = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th", "21st"]
DATES = ["01/02/2019", "2019-01-02", "3/4/2019", "12/31/18", "XX/XX/XXXX", "2/14", "Jan 5, 2019", "5-6-2018"]
TIMES = ["10:30", "10:30 a.m.", "5:45 pm", "0600 hours", "12:30pm", "3 p.m.", "XXXX"]
ABBREVIATIONS = ["CT", "ct", "MRI", "PA", "AP", "ICU", "ETT", "NG", "PICC", "IJ", "SVC", "COPD", "CHF", "CABG",
                 "Dr. XXXX", "vs.", "e.g.", "i.e.", "etc.", "approx.", "No."]
CLITICS = ["patient's", "patients'", "isn't", "can't", "won't", "doesn't", "there's", "it's", "we'd", "cannot",
           "they're", "we've", "you'll"]
JOINERS = [", ", "; ", ": ", " - ", " -- ", "... ", " / ", " (", ") ", " [", "] ", ' "', '" ', " '", "' "]
ALPHANUMERIC = ["4xxxx", "XXXX", "xxxx-xxxx", "T12", "L1-L2", "C5-6", "T11-T12", "x2", "3x", "A1c", "2L", "O2",
                "h/o", "s/p", "w/o", "and/or", "x-ray", "follow-up", "non-specific", "well-defined", "1-2",
                "2+", "+5", "-5", "50%", "#3", "ph.d.", "b.i.d.", "q.d."]
ENDINGS = [".", ". ", "", "..", "...", "!", "?", ".\"", ".)", " .", ". XXXX."]
WORDS_BY_PERIOD = ["enlargement.prominence", "normal.lungs", "effusion.no", "carina.NG", "clear.There",
                   "nodules.The", "pneumothorax.IMPRESSION", "disease.2", "base.3"]


def synthetic_sentences(n: int) -> list[str]:
    """Whole synthetic reports and indications, as radzoo's generator writes them."""
    out = []
    for index in range(n):
        rng = np.random.default_rng([0, index, 7])
        truth = sample_truth(np.random.default_rng([0, index, 20260]))
        out.append(write_report(truth, rng))
        indication = write_indication(truth, rng)
        if indication and index % 3 == 0:
            out.append(indication)
    return out


def template_sentences(n: int, seed: int = 0) -> list[str]:
    """Sentences combining sizes, places, dates, times, ordinals, abbreviations, clitics and punctuation."""
    rng = random.Random(seed)
    templates = [
        lambda: f"A {rng.choice(SIZES)} {rng.choice(FINDINGS)} in the {rng.choice(PLACES)}{rng.choice(ENDINGS)}",
        lambda: f"Compared to {rng.choice(DATES)} at {rng.choice(TIMES)}{rng.choice(JOINERS)}"
                f"the {rng.choice(FINDINGS)} is unchanged{rng.choice(ENDINGS)}",
        lambda: f"The {rng.choice(ORDINALS)} rib{rng.choice(JOINERS)}{rng.choice(ALPHANUMERIC)} "
                f"{rng.choice(FINDINGS)}{rng.choice(ENDINGS)}",
        lambda: f"Recommend {rng.choice(ABBREVIATIONS)}{rng.choice(ENDINGS)} {rng.choice(ABBREVIATIONS)} "
                f"of the {rng.choice(PLACES)}{rng.choice(ENDINGS)}",
        lambda: f"The {rng.choice(CLITICS)} {rng.choice(FINDINGS)}{rng.choice(JOINERS)}"
                f"{rng.choice(CLITICS)} {rng.choice(PLACES)}{rng.choice(ENDINGS)}",
        lambda: f"Mild {rng.choice(WORDS_BY_PERIOD)} of the {rng.choice(PLACES)}{rng.choice(JOINERS)}"
                f"{rng.choice(SIZES)}{rng.choice(ENDINGS)}",
        lambda: f"{rng.choice(ALPHANUMERIC)} {rng.choice(FINDINGS)}{rng.choice(JOINERS)}{rng.choice(ALPHANUMERIC)}"
                f" {rng.choice(ABBREVIATIONS)}{rng.choice(ENDINGS)}",
        lambda: f"Impression: {rng.randint(1, 4)}. {rng.choice(FINDINGS).capitalize()} "
                f"{rng.choice(['vs.', 'versus', 'and/or', 'or'])} {rng.choice(FINDINGS)}{rng.choice(ENDINGS)} "
                f"{rng.randint(1, 4)}.{rng.choice(['', ' '])}{rng.choice(FINDINGS).capitalize()}{rng.choice(ENDINGS)}",
    ]
    return [rng.choice(templates)() for _ in range(n)]


DENSE_WORDS = ("the", "heart", "is", "normal", "size", "lungs", "clear", "no", "pneumothorax", "effusion", "nodule",
               "RUL", "LLL", "XXXX", "x-ray", "s/p", "w/o", "CT", "PA", "AP", "mm", "cm", "T12", "L1-L2", "8th", "2nd",
               "4xxxx", "Dr", "vs", "e.g", "i.e", "etc", "approx", "No", "ca", "a.m.", "patient's", "isn't", "can't",
               "cannot", "won't", "it's", "Mass", "Ct", "Pa", "Sept", "lt")
DENSE_NUMBERS = ("3", "3.5", "0.8", "10", "1,000", "2019", "01/02/2019", "12:30", "1/2", "3 x 2", "5-6", "+2", "-1",
                 ".5", "2.0", "100%")
DENSE_MARKS = (". ", ", ", "; ", ": ", ".", ",", ":", "-", " - ", " -- ", "/", " (", ") ", "(", ")", "[", "]",
               '"', "'", "...", "!", "?", "%", "+", "#", "&", "*", ">", "<", "=", "_")


def dense_sentences(n: int, seed: int = 1) -> list[str]:
    """Report words, numbers and punctuation thrown together, often without spaces: where tokenizers differ."""
    rng = random.Random(seed)

    def piece() -> str:
        r = rng.random()
        return rng.choice(DENSE_WORDS if r < 0.55 else DENSE_NUMBERS if r < 0.7 else DENSE_MARKS)

    return ["".join(piece() + (" " if rng.random() < 0.6 else "") for _ in range(rng.randint(2, 14))).strip()
            for _ in range(n)]


def build() -> list[str]:
    """The whole corpus, deduplicated, in a fixed order."""
    lines = synthetic_sentences(700) + EDGE_CASES.splitlines() + template_sentences(1400) + dense_sentences(400)
    seen: set[str] = set()
    return [s for s in (line.strip() for line in lines) if s and not (s in seen or seen.add(s))]


def main() -> None:
    lines = build()
    CORPUS.parent.mkdir(parents=True, exist_ok=True)
    CORPUS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} sentences to {CORPUS}")


if __name__ == "__main__":
    main()
