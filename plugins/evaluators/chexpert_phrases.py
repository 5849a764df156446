"""Phrase lists of radzoo's rule-based CheXpert labeler (written for radzoo; vocabulary chosen after the
mention/negation lists of the MIT-licensed stanfordmlgroup/chexpert-labeler). Patterns are regex fragments
matched on lowercased text at word boundaries.
"""

from __future__ import annotations

# Output order of the original chexpert-labeler (its labeled_reports.csv header).
OBSERVATIONS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
)
NO_FINDING = "No Finding"
SUPPORT_DEVICES = "Support Devices"
OTHER_FINDING = "other finding"  # not an output column: a positive one only blocks "No Finding"
EXCLUDED = "excluded"  # phrases that contain a mention word but mean something else

# Mentions that name the observation outright: positive unless negated or uncertain.
STRONG: dict[str, tuple[str, ...]] = {
    "Enlarged Cardiomediastinum": (
        r"widen(?:ed|ing) (?:of the )?(?:superior )?mediastin\w*", r"mediastinal (?:widening|enlargement)",
        r"enlarged cardiomediastin\w*", r"cardiomediastinal enlargement",
    ),
    "Cardiomegaly": (
        r"cardiomegaly", r"cardiac enlargement", r"enlarged heart", r"enlargement of the (?:heart|cardiac \w+)",
        r"enlarged cardiac (?:silhouette|contour|shadow|size)",
    ),
    "Lung Lesion": (
        r"mass(?:es)?", r"nodul(?:e|es|ar density|ar densities|ar opacity|ar opacities|ar opacification)",
        r"lump", r"cavitary lesions?", r"(?:lung|pulmonary) lesions?", r"carcinoma", r"neoplasms?", r"tumou?rs?",
        # a nodular pattern names nodules however it is phrased ("nodular prominence", "reticulonodular")
        r"(?:fibro|reticulo|micro)?nodular(?:ity)?", r"micronodules?",
    ),
    "Lung Opacity": (
        r"opacit(?:y|ies)", r"opacification", r"opacified", r"air[- ]?space (?:disease|process|opacit(?:y|ies))",
        r"infiltrat(?:e|es|ion|ive)", r"ground[- ]glass", r"haziness", r"hazy (?:opacit(?:y|ies)|density)",
    ),
    "Edema": (
        r"(?:pulmonary |interstitial |alveolar )?edema", r"edematous", r"(?:congestive )?heart failure", r"chf",
    ),
    "Consolidation": (r"consolidat(?:ion|ions|ive|ed)",),
    "Pneumonia": (r"pneumonias?", r"infections?", r"infectious(?: process)?", r"bronchopneumonia", r"pneumonitis"),
    "Atelectasis": (r"atelecta(?:sis|ses|tic)", r"collapse(?:d)?"),
    "Pneumothorax": (
        r"pneumothora(?:x|ces)", r"(?:hydro|hemo|pyo)pneumothora(?:x|ces)", r"pleural air(?: collections?)?",
        r"air (?:collection )?in the (?:right |left )?pleural space",
    ),
    "Pleural Effusion": (  # a hydro-/hemo-/pyopneumothorax is air AND fluid: both observations
        r"(?:pleural )?effusions?", r"pleural fluid", r"hydrothorax", r"(?:hydro|hemo|pyo)pneumothora(?:x|ces)",
        r"fluid in the (?:pleural space|costophrenic angles?)",
    ),
    "Pleural Other": (
        r"pleural thickening", r"fibrothorax", r"fibrosis", r"pleural (?:scar|scarring|plaques?)",
        r"pleuro-?parenchymal (?:scar|scarring)", r"pleural[- ]parenchymal (?:scar|scarring)",
        r"apical (?:pleural )?(?:cap|capping|thickening)",
    ),
    "Fracture": (r"fractur(?:e|es|ed)", r"fx"),
    "Support Devices": (
        r"(?:endotracheal|et|tracheostomy|trach|nasogastric|ng|orogastric|og|enteric|feeding|chest|"
        r"gastric|dobhoff|nasoenteric|mediastinal) tubes?", r"ett", r"dobhoff", r"(?:central )?(?:venous )?catheters?",
        r"central (?:venous )?lines?", r"picc(?: lines?)?", r"swan[- ]ganz(?: catheter)?", r"port-?a-?cath",
        r"(?:cardiac )?pacemaker", r"pacer", r"(?:aicd|icd)", r"defibrillator", r"(?:pacer|pacemaker|cardiac) leads?",
        r"(?:ecg|ekg|monitoring) leads", r"drains?",
        r"(?:prosthetic|mechanical) (?:valve|mitral valve|aortic valve)", r"valve replacement",
        r"intra-?aortic balloon pump", r"iabp", r"lvad", r"impella", r"pigtail catheter",
        # CheXpert's mention list names devices, not surgical material: clips, stents, sternotomy wires and
        # orthopaedic hardware are not support devices (checked against IU X-ray's MeSH device tags)
        r"(?:support |cardiac |monitoring |closure |electronic )?devices?", r"(?:orthopedic |spinal )?hardware",
        r"arthroplast\w*", r"lines and tubes", r"tubes and lines",
        r"tracheostomy",
        # CheXpert's list also names markers, cannulas, coils, screws, plates and ports (mediport); a device's
        # parts (generator, leads) and a tip placed in a central vein or the heart name a device too
        r"(?:skin |nipple |metallic )?markers?", r"cannulas?", r"coils?", r"screws?", r"(?:mediport|port-?a-?cath)",
        r"(?:pacemaker |pacer |cardiac |battery )?generator", r"(?:monitor|external|overlying) leads",
        r"(?:neuro|spinal cord |spinal )?stimulator", r"prosthe(?:sis|ses|tic (?:\w+ )?head)", r"bone anchors?",
        r"occluder", r"\w+-a-\w+(?= (?:\w+ ){0,3}tip)",
        r"tip (?:\w+ ){0,4}(?:svc|superior vena cava|cavoatrial|caval ?atrial|right atri\w*|right ventricle)",
    ),
}

# Mentions CheXpert always reads as uncertain unless negated (its post-negation uncertainty rules: "vascular
# congestion", "pulmonary congestion", "indistinctness", "vascular prominence"); venous/vascular engorgement
# is the same sign in other words.
HEDGED: dict[str, tuple[str, ...]] = {
    "Edema": (
        r"(?:pulmonary )?vascular congestion", r"pulmonary (?:venous )?congestion", r"venous congestion",
        r"(?:pulmonary )?(?:vascular|venous) engorgement", r"(?:vascular )?indistinctness",
        r"(?:pulmonary )?vascular prominence",
    ),
}

# Mentions that name an anatomical part: 0 when called normal, 1 only with an enlargement word nearby.
NEUTRAL: dict[str, tuple[str, ...]] = {
    "Enlarged Cardiomediastinum": (
        r"cardiomediastinal (?:silhouette|contours?|shadow|size)", r"cardiomediastinum",
        r"mediastinal (?:silhouette|contours?|configuration)", r"mediastinum", r"pericardial silhouette",
        r"hilar and mediastinal contours", r"mediastinal and hilar contours",
    ),
    "Cardiomegaly": (
        r"heart size", r"the heart", r"heart", r"cardiac (?:size|silhouette|shadow|contours?)", r"size of the heart",
    ),
}
ENLARGEMENT = r"\b(?:enlarg\w*|widen\w*|prominen\w*|large|increased|big)\b"

# Blocks "No Finding" when positive (not an output column), after the original's no_finding list.
OTHER_FINDINGS = (
    r"emphysema\w*", r"blunt\w*", r"elevat(?:ed|ion) (?:of the )?(?:\w+ )?(?:hemi)?diaphragm\w*",
    r"eventration", r"scoliosis", r"degenerat\w*", r"calcifi\w*", r"hyperinfla\w*", r"hyperexpan\w*",
    r"hernias?", r"copd", r"interstitial (?:markings|lung disease|abnormalit\w*)", r"plaques?",
    r"osteophyt\w*", r"granulomas?", r"pneumomediastinum", r"pneumoperitoneum", r"kyphosis", r"deformit\w*",
    r"hematoma", r"hemorrhage", r"bronchiectasis", r"bronchitis", r"aspiration", r"volume loss",
    r"(?:bronchial wall |peribronchial )?thickening", r"cuffing", r"cephalization", r"reticula\w*",
    r"metasta\w*", r"bullae", r"bulla", r"osteopenia", r"lucenc\w*", r"abnormalit(?:y|ies)",
    # CheXpert does not count a calcified nodule as a lung lesion (its unmention list), nor the granulomatous
    # infection that left it as pneumonia: both are healed disease
    r"calcified (?:pulmonary |lung |parenchymal )?nodul(?:e|es|ar densit(?:y|ies)|ar opacit(?:y|ies))",
    r"(?:granulomatous|tuberculous|mycobacterial|histoplasm\w*) (?:infection|disease|process|exposure)",
    r"(?:post-?inflammatory|post-?infectious) (?:scarring|changes?)",
)

EXCLUSIONS = (
    r"pericardial effusions?", r"joint effusions?", r"mass effect", r"no (?:significant |interval )?change",
    r"not (?:significantly )?changed", r"without (?:significant |interval )?change",
    r"heart failure clinic", r"soft tissue (?:edema|swelling)",  # swelling outside the chest is not edema
)

# Triggers: (pattern, max words allowed between trigger and mention). Longer phrases come first.
PRE_UNCERTAINTY = (
    r"(?:cannot|can ?not|can't|could not|does not|doesn't) (?:be )?(?:entirely |definitely |totally )?"
    r"(?:exclude|excluded|rule out|ruled out)", r"not (?:be )?(?:entirely )?(?:excluded|ruled out)",
    r"rule out", r"r/o", r"to exclude", r"differential (?:diagnosis )?(?:includes|include|of)",
    r"question of", r"questionable", r"suspicious (?:for|of)", r"suspect(?:ed)?", r"concerning for",
    r"concern for", r"suggestive of", r"(?<!to )suggest(?:s|ing)?", r"unlikely", r"worrisome for",
    r"possibl[ey]", r"probabl[ey]",
    r"presum(?:ed|ably)", r"likely", r"may", r"might", r"could", r"versus", r"vs\.?", r"borderline",
    r"equivocal", r"indeterminate", r"cannot be differentiated", r"evaluate for", r"assess for",
    # CheXpert: "correlate clinically for X" leaves X uncertain
    r"correlate (?:clinically )?for", r"clinical correlation for", r"difficult to (?:entirely )?exclude",
)
PRE_NEGATION = (
    r"no evidence of", r"no signs? of", r"no radiographic (?:evidence|signs?) of", r"negative for",
    r"free of", r"clear of", r"absence of", r"without", r"resolution of", r"resolved", r"removal of",
    r"history of", r"clearing of", r"disappearance of",
    r"removed", r"no longer", r"neither", r"nor", r"rather than", r"no", r"not", r"never",
)
PRE_NEGATION_NEAR = (r"normal", r"unremarkable", r"top[- ]normal", r"clear")  # only 0-2 words away
# An infection called old, healed or prior is its sequela, not a pneumonia (as CheXpert's "history of").
HISTORICAL = r"\b(?:old|healed|prior|previous|remote|sequelae? of|residua of|stigmata of)\b"
HISTORICAL_OBSERVATIONS = frozenset({"Pneumonia"})
POST_UNCERTAINTY = (
    r"(?:cannot|can ?not|can't) (?:be )?(?:entirely |definitely )?(?:excluded|ruled out)",
    r"not (?:be )?(?:entirely )?(?:excluded|ruled out)", r"(?:is|are) (?:not )?excluded",
    r"(?:is|are) (?:possible|likely|unlikely|probable|suspected|questionable|questioned|favou?red)",
    r"unlikely",
    r"possibl[ey]", r"suspected", r"questionable", r"versus", r"vs\.?", r"may", r"might", r"could",
    r"(?:is|are) (?:not )?(?:entirely )?(?:certain|definite)", r"(?:is|are) in the differential",
    r"(?:is |are )?difficult to (?:entirely )?exclude",
)
POST_NEGATION = (
    r"within normal limits", r"(?:is|are|was|were|appears?|remains?)? ?(?:normal|unremarkable|top[- ]normal)",
    r"upper limits? of normal", r"not (?:significantly |appreciably |substantially )?(?:enlarged|widened|seen|"
    r"identified|present|demonstrated|visualized|"
    r"evident|appreciated|detected)", r"(?:has|have)? ?(?:resolved|cleared|been removed)", r"resolved",
    r"removed", r"absent", r"no longer (?:present|seen|visualized|evident)",
)
# "A or B": CheXpert reads both as uncertain (its conj:or rule), unless negated
ALTERNATIVE = r"\s*,?\s*(?:and/)?or\s*"
# Where a scope stops: before the mention (pre) and after it (post).
PRE_TERMINATORS = (r"\b(?:but|however|although|though|which|except|aside from|apart from|otherwise|whereas|"
                   r"and(?= (?:the|there|an?|its)\b))\b|;")
POST_TERMINATORS = r"\b(?:but|however|although|though|which|and|with|except|otherwise|whereas|due to)\b|[,;:]"
CLAUSE_BREAK = r"\b(?:is|are|was|were|has|have|had|appears?|remains?|demonstrates?|shows?|seen|noted)\b"
