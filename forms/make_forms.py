"""Write the sample XLSForms (trainings, consultations, beneficiary feedback) and check each."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from pyxform.errors import PyXFormError
from pyxform.validators.odk_validate import ODKValidateError
from pyxform.xls2xform import convert

FORMS_DIR = Path(__file__).resolve().parent
VERSION = "2026112801"
# Fixed timestamps keep regenerated workbooks byte-identical, so git shows real changes only.
STAMP = datetime(2026, 11, 28, 0, 0, 0)
EN = "English (en)"
FR = "French (fr)"

Text = tuple[str, str]  # (English, French)
Row = dict[str, str]
Choice = tuple[str, str, str]  # (name, English, French)

SURVEY_COLUMNS = (
    "type",
    "name",
    f"label::{EN}",
    f"label::{FR}",
    f"hint::{EN}",
    f"hint::{FR}",
    "required",
    "relevant",
    "constraint",
    f"constraint_message::{EN}",
    f"constraint_message::{FR}",
    "calculation",
    "bind::type",
    "read_only",
    "appearance",
    "parameters",
    "sensitive",
)
ALWAYS_WRITTEN = {"type", "name", f"label::{EN}", f"label::{FR}", "sensitive"}
INDICATOR_COLUMNS = (
    "name",
    "section",
    "label",
    f"label::{FR}",
    "type",
    "field",
    "where",
    "condition",
    "by",
    "baseline_form",
    "key",
    "target",
)
INDICATOR_TYPES = {"count", "distinct", "sum", "mean", "percent", "change"}
EXPRESSION_FUNCTIONS = {"not", "selected", "count-selected"}
NUMERIC_TYPES = {"integer", "decimal"}


def question(
    type_: str,
    name: str,
    label: Text | None = None,
    *,
    hint: Text | None = None,
    required: bool = False,
    relevant: str = "",
    constraint: str = "",
    message: Text | None = None,
    calculation: str = "",
    bind_type: str = "",
    read_only: bool = False,
    appearance: str = "",
    parameters: str = "",
    sensitive: bool = False,
) -> Row:
    """Return one survey row; `label`, `hint` and `message` are (English, French) pairs."""
    row = {
        "type": type_,
        "name": name,
        "required": "yes" if required else "",
        "relevant": relevant,
        "constraint": constraint,
        "calculation": calculation,
        "bind::type": bind_type,
        "read_only": "yes" if read_only else "",
        "appearance": appearance,
        "parameters": parameters,
        "sensitive": "yes" if sensitive else "",
    }
    for column, text in (("label", label), ("hint", hint), ("constraint_message", message)):
        if text is not None:
            row[f"{column}::{EN}"], row[f"{column}::{FR}"] = text
    return row


def only_if(condition: str, rows: list[Row]) -> list[Row]:
    """Make `rows` relevant only when `condition` holds, keeping their own relevance."""
    for row in rows:
        own = row.get("relevant", "")
        row["relevant"] = f"{condition} and ({own})" if own else condition
    return rows


def exclusive(choice: str) -> str:
    """Return a select_multiple constraint that forbids `choice` together with other choices."""
    return f"not(selected(., '{choice}') and count-selected(.) > 1)"


def metadata() -> list[Row]:
    """Return the audit metadata rows every form carries."""
    return [question(kind, kind) for kind in ("start", "end", "today", "deviceid")]


@dataclass(frozen=True)
class Indicator:
    """One row of an `indicators` sheet (see docs/indicators.md)."""

    name: str
    section: str
    label: Text
    type: str
    field: str = ""
    where: str = ""
    condition: str = ""
    by: str = ""
    baseline_form: str = ""
    key: str = ""
    target: int | None = None

    def cells(self) -> list[str | int | None]:
        """Return the row's cells in INDICATOR_COLUMNS order."""
        return [
            self.name,
            self.section,
            *self.label,
            self.type,
            self.field,
            self.where,
            self.condition,
            self.by,
            self.baseline_form,
            self.key,
            self.target,
        ]


@dataclass(frozen=True)
class Form:
    """One XLSForm workbook: survey rows, its indicators and its settings."""

    form_id: str
    title: str
    survey: list[Row]
    indicators: list[Indicator]

    @property
    def path(self) -> Path:
        """Return where the workbook is written."""
        return FORMS_DIR / f"{self.form_id}.xlsx"

    def list_names(self) -> list[str]:
        """Return the choice lists the survey uses, in order of first use."""
        names: list[str] = []
        for row in self.survey:
            parts = row["type"].split()
            if parts[0] in {"select_one", "select_multiple"} and parts[1] not in names:
                names.append(parts[1])
        return names


# --- Choice lists -------------------------------------------------------------------------

CHOICES: dict[str, list[Choice]] = {
    "event": [
        (
            "tb_reporting_tot",
            "Training of trainers on treaty body reporting",
            "Formation de formateurs sur l'établissement des rapports aux organes conventionnels",
        ),
        (
            "hrba_planning",
            "Human rights-based approach to development planning",
            "Approche fondée sur les droits de l'homme dans la planification du développement",
        ),
        (
            "hr_law_enforcement",
            "Human rights for law enforcement officials",
            "Droits de l'homme à l'intention des responsables de l'application des lois",
        ),
        (
            "upr_follow_up",
            "Follow-up to Universal Periodic Review recommendations",
            "Suivi des recommandations de l'Examen périodique universel",
        ),
    ],
    "sex": [
        ("female", "Female", "Femme"),
        ("male", "Male", "Homme"),
        ("other", "Other", "Autre"),
    ],
    "institution": [
        ("government", "Government ministry or department", "Ministère ou administration publique"),
        ("parliament", "Parliament", "Parlement"),
        ("judiciary", "Judiciary", "Pouvoir judiciaire"),
        (
            "law_enforcement",
            "Law enforcement or security forces",
            "Forces de l'ordre ou de sécurité",
        ),
        (
            "nhri",
            "National human rights institution",
            "Institution nationale des droits de l'homme",
        ),
        ("cso", "Civil society organization", "Organisation de la société civile"),
        (
            "un_international",
            "UN or international organization",
            "ONU ou organisation internationale",
        ),
        ("other", "Other", "Autre"),
    ],
    "region": [
        ("capital", "Capital district", "District de la capitale"),
        ("north", "North", "Nord"),
        ("south", "South", "Sud"),
        ("east", "East", "Est"),
        ("west", "West", "Ouest"),
    ],
    "yes_no": [("yes", "Yes", "Oui"), ("no", "No", "Non")],
    "wg": [
        ("no_difficulty", "No, no difficulty", "Non, aucune difficulté"),
        ("some_difficulty", "Yes, some difficulty", "Oui, quelques difficultés"),
        ("a_lot_of_difficulty", "Yes, a lot of difficulty", "Oui, beaucoup de difficultés"),
        ("cannot_do", "Cannot do at all", "Ne peut pas du tout"),
    ],
    "usefulness": [
        ("very_useful", "Very useful", "Très utile"),
        ("useful", "Useful", "Utile"),
        ("somewhat_useful", "Somewhat useful", "Assez utile"),
        ("not_useful", "Not useful", "Pas utile"),
    ],
    "intended_use": [
        (
            "revise_procedures",
            "Revise procedures or guidelines in my institution",
            "Réviser les procédures ou les directives de mon institution",
        ),
        ("train_colleagues", "Train colleagues", "Former des collègues"),
        (
            "treaty_report",
            "Contribute to a report to a treaty body or the UPR",
            "Contribuer à un rapport destiné à un organe conventionnel ou à l'EPU",
        ),
        (
            "engage_cso",
            "Engage with civil society organizations",
            "Collaborer avec les organisations de la société civile",
        ),
        ("none", "None of these", "Aucune de ces utilisations"),
    ],
    "use_made": [
        (
            "revised_procedures",
            "Revised procedures or guidelines",
            "Révision de procédures ou de directives",
        ),
        (
            "trained_colleagues",
            "Trained or briefed colleagues",
            "Formation ou information de collègues",
        ),
        (
            "treaty_report",
            "Contributed to a treaty body or UPR report",
            "Contribution à un rapport à un organe conventionnel ou à l'EPU",
        ),
        (
            "engaged_cso",
            "Worked with civil society organizations",
            "Collaboration avec des organisations de la société civile",
        ),
        (
            "casework",
            "Applied it in casework or daily decisions",
            "Application dans le traitement des dossiers ou les décisions quotidiennes",
        ),
        ("other", "Other", "Autre"),
    ],
    "barrier": [
        ("no_opportunity", "No opportunity to apply it", "Pas d'occasion de l'appliquer"),
        (
            "no_support",
            "Lack of support from management",
            "Manque de soutien de la hiérarchie",
        ),
        ("no_resources", "Lack of time or resources", "Manque de temps ou de moyens"),
        (
            "transferred",
            "I changed post or institution",
            "J'ai changé de poste ou d'institution",
        ),
        (
            "not_relevant",
            "Content not relevant to my work",
            "Contenu sans rapport avec mon travail",
        ),
        ("other", "Other", "Autre"),
        ("none", "No barriers", "Aucun obstacle"),
    ],
    "consultation": [
        (
            "nhrap",
            "National human rights action plan",
            "Plan d'action national pour les droits de l'homme",
        ),
        (
            "transitional_justice",
            "National consultation on transitional justice",
            "Consultation nationale sur la justice transitionnelle",
        ),
        (
            "nhri_law",
            "Draft law on the national human rights institution (Paris Principles)",
            "Projet de loi sur l'institution nationale des droits de l'homme (Principes de Paris)",
        ),
        (
            "upr_plan",
            "Plan to implement UPR recommendations",
            "Plan de mise en œuvre des recommandations de l'EPU",
        ),
    ],
    "theme": [
        ("non_discrimination", "Equality and non-discrimination", "Égalité et non-discrimination"),
        ("access_to_justice", "Access to justice", "Accès à la justice"),
        (
            "accountability",
            "Accountability and reparations",
            "Responsabilité et réparations",
        ),
        ("institutions", "Institutional and legal reform", "Réforme institutionnelle et juridique"),
        ("participation", "Participation in public life", "Participation à la vie publique"),
        (
            "esc_rights",
            "Economic, social and cultural rights",
            "Droits économiques, sociaux et culturels",
        ),
        ("women", "Rights of women", "Droits des femmes"),
        (
            "disability",
            "Rights of persons with disabilities",
            "Droits des personnes handicapées",
        ),
        ("other", "Other", "Autre"),
    ],
    "stakeholder": [
        ("government", "Government", "Gouvernement"),
        ("parliament", "Parliament", "Parlement"),
        (
            "nhri",
            "National human rights institution",
            "Institution nationale des droits de l'homme",
        ),
        ("cso", "Civil society organization", "Organisation de la société civile"),
        ("victims", "Victims' association", "Association de victimes"),
        ("women_org", "Women's organization", "Organisation de femmes"),
        (
            "dpo",
            "Organization of persons with disabilities",
            "Organisation de personnes handicapées",
        ),
        (
            "minority_indigenous",
            "Minority or indigenous community",
            "Communauté minoritaire ou autochtone",
        ),
        ("academia", "Academia", "Milieu universitaire"),
        (
            "un_international",
            "UN or international organization",
            "ONU ou organisation internationale",
        ),
        ("other", "Other", "Autre"),
    ],
    "priority": [
        ("high", "High", "Élevée"),
        ("medium", "Medium", "Moyenne"),
        ("low", "Low", "Faible"),
    ],
    "project": [
        (
            "anti_discrimination",
            "Combating discrimination (community mediators)",
            "Lutte contre la discrimination (médiateurs communautaires)",
        ),
        (
            "reparations",
            "Reparations for survivors of sexual violence",
            "Réparations pour les victimes de violences sexuelles",
        ),
        (
            "hrd_protection",
            "Protection mechanism for human rights defenders",
            "Mécanisme de protection des défenseurs des droits de l'homme",
        ),
        (
            "indigenous_participation",
            "Participation of indigenous peoples in public life",
            "Participation des peuples autochtones à la vie publique",
        ),
    ],
    "beneficiary_group": [
        ("victims_association", "Victims' association", "Association de victimes"),
        ("persons_with_disabilities", "Persons with disabilities", "Personnes handicapées"),
        ("minority", "Minority community", "Communauté minoritaire"),
        ("hrd", "Human rights defender", "Défenseur ou défenseuse des droits de l'homme"),
        ("other", "Other", "Autre"),
    ],
    "yes_no_pnta": [
        ("yes", "Yes", "Oui"),
        ("no", "No", "Non"),
        ("prefer_not", "Prefer not to say", "Préfère ne pas répondre"),
    ],
    "yes_partly_no": [
        ("yes", "Yes", "Oui"),
        ("partly", "Partly", "En partie"),
        ("no", "No", "Non"),
    ],
    "access_barrier": [
        ("distance", "Distance or transport", "Distance ou transport"),
        ("cost", "Cost", "Coût"),
        ("language", "Language", "Langue"),
        ("physical", "Venue not physically accessible", "Lieu physiquement inaccessible"),
        ("information", "Lack of information", "Manque d'information"),
        ("reprisals", "Fear of reprisals", "Crainte de représailles"),
        ("care_duties", "Family or care duties", "Obligations familiales ou de soins"),
        ("none", "No barriers", "Aucun obstacle"),
    ],
}

# Pre- and post-test knowledge questions: (name, correct choice, question, options a-d).
KNOWLEDGE: list[tuple[str, str, Text, list[Text]]] = [
    (
        "q1",
        "b",
        (
            "Which document sets out the minimum standards that national human rights "
            "institutions must meet?",
            "Quel document énonce les normes minimales auxquelles doivent satisfaire les "
            "institutions nationales des droits de l'homme ?",
        ),
        [
            (
                "The Vienna Declaration and Programme of Action",
                "La Déclaration et le Programme d'action de Vienne",
            ),
            ("The Paris Principles", "Les Principes de Paris"),
            ("The Geneva Conventions", "Les Conventions de Genève"),
            (
                "The Universal Declaration of Human Rights",
                "La Déclaration universelle des droits de l'homme",
            ),
        ],
    ),
    (
        "q2",
        "a",
        (
            "What is the Universal Periodic Review (UPR)?",
            "Qu'est-ce que l'Examen périodique universel (EPU) ?",
        ),
        [
            (
                "A review by the Human Rights Council of the human rights record of every UN "
                "Member State",
                "Un examen, par le Conseil des droits de l'homme, de la situation des droits de "
                "l'homme dans chaque État Membre de l'ONU",
            ),
            (
                "A complaint procedure for individual victims",
                "Une procédure de plainte pour les victimes individuelles",
            ),
            (
                "An annual report of the Security Council",
                "Un rapport annuel du Conseil de sécurité",
            ),
            (
                "A review of only those States that have ratified all the core treaties",
                "Un examen des seuls États ayant ratifié tous les principaux traités",
            ),
        ],
    ),
    (
        "q3",
        "d",
        (
            "Which body monitors how States implement the International Covenant on Civil and "
            "Political Rights?",
            "Quel organe surveille la mise en œuvre par les États du Pacte international relatif "
            "aux droits civils et politiques ?",
        ),
        [
            ("The Human Rights Council", "Le Conseil des droits de l'homme"),
            ("The International Court of Justice", "La Cour internationale de Justice"),
            (
                "The Committee on Economic, Social and Cultural Rights",
                "Le Comité des droits économiques, sociaux et culturels",
            ),
            ("The Human Rights Committee", "Le Comité des droits de l'homme"),
        ],
    ),
    (
        "q4",
        "b",
        (
            "The members of the UN human rights treaty bodies are:",
            "Les membres des organes de traités relatifs aux droits de l'homme de l'ONU sont :",
        ),
        [
            (
                "Diplomats representing their governments",
                "Des diplomates représentant leur gouvernement",
            ),
            (
                "Independent experts elected by the States parties",
                "Des experts indépendants élus par les États parties",
            ),
            (
                "Staff of the Office of the High Commissioner for Human Rights",
                "Des fonctionnaires du Haut-Commissariat aux droits de l'homme",
            ),
            (
                "Representatives of civil society organizations",
                "Des représentants d'organisations de la société civile",
            ),
        ],
    ),
    (
        "q5",
        "c",
        (
            "In a human rights-based approach to development, the people a programme serves are "
            "seen as:",
            "Dans une approche du développement fondée sur les droits de l'homme, les personnes "
            "auxquelles s'adresse un programme sont considérées comme :",
        ),
        [
            ("Beneficiaries of charity", "Des bénéficiaires de la charité"),
            ("Passive recipients of services", "Des destinataires passifs de services"),
            (
                "Rights-holders entitled to take part and to hold duty-bearers to account",
                "Des titulaires de droits, habilités à participer et à demander des comptes aux "
                "débiteurs d'obligations",
            ),
            ("Customers of public services", "Des clients des services publics"),
        ],
    ),
    (
        "q6",
        "c",
        (
            "Which statement about the obligation of non-discrimination is correct?",
            "Quelle affirmation concernant l'obligation de non-discrimination est exacte ?",
        ),
        [
            ("It applies only to citizens", "Elle ne s'applique qu'aux citoyens"),
            (
                "It can be postponed until resources are available",
                "Elle peut être reportée jusqu'à ce que des ressources soient disponibles",
            ),
            (
                "It applies immediately, including to economic, social and cultural rights",
                "Elle s'applique immédiatement, y compris aux droits économiques, sociaux et "
                "culturels",
            ),
            (
                "It covers only discrimination based on sex",
                "Elle ne vise que la discrimination fondée sur le sexe",
            ),
        ],
    ),
    (
        "q7",
        "a",
        (
            "The State's obligation to protect human rights means that it must:",
            "L'obligation de l'État de protéger les droits de l'homme signifie qu'il doit :",
        ),
        [
            (
                "Prevent third parties, such as companies, from abusing people's rights",
                "Empêcher des tiers, comme les entreprises, de porter atteinte aux droits des "
                "personnes",
            ),
            (
                "Refrain from interfering with people's enjoyment of their rights",
                "S'abstenir d'entraver l'exercice de leurs droits par les personnes",
            ),
            (
                "Provide all goods and services free of charge",
                "Fournir gratuitement tous les biens et services",
            ),
            (
                "Protect only the rights listed in its constitution",
                "Ne protéger que les droits inscrits dans sa constitution",
            ),
        ],
    ),
    (
        "q8",
        "d",
        (
            "Which right may never be suspended, even in a state of emergency?",
            "Quel droit ne peut jamais être suspendu, même en cas d'état d'urgence ?",
        ),
        [
            ("Freedom of movement", "La liberté de circulation"),
            ("Freedom of peaceful assembly", "La liberté de réunion pacifique"),
            ("Freedom of expression", "La liberté d'expression"),
            (
                "The right not to be subjected to torture",
                "Le droit de ne pas être soumis à la torture",
            ),
        ],
    ),
]
DONT_KNOW: Choice = ("dont_know", "I don't know", "Je ne sais pas")
for _name, _correct, _question, _options in KNOWLEDGE:
    CHOICES[f"{_name}_options"] = [
        (letter, en, fr) for letter, (en, fr) in zip("abcd", _options, strict=True)
    ] + [DONT_KNOW]

WG_DOMAINS: list[tuple[str, Text]] = [
    (
        "wg_seeing",
        (
            "Do you have difficulty seeing, even if wearing glasses?",
            "Avez-vous des difficultés à voir, même si vous portez des lunettes ?",
        ),
    ),
    (
        "wg_hearing",
        (
            "Do you have difficulty hearing, even if using a hearing aid?",
            "Avez-vous des difficultés à entendre, même si vous utilisez un appareil auditif ?",
        ),
    ),
    (
        "wg_walking",
        (
            "Do you have difficulty walking or climbing steps?",
            "Avez-vous des difficultés à marcher ou à monter des marches ?",
        ),
    ),
    (
        "wg_cognition",
        (
            "Do you have difficulty remembering or concentrating?",
            "Avez-vous des difficultés à vous souvenir ou à vous concentrer ?",
        ),
    ),
    (
        "wg_selfcare",
        (
            "Do you have difficulty with self-care, such as washing all over or dressing?",
            "Avez-vous des difficultés à prendre soin de vous, comme vous laver entièrement ou "
            "vous habiller ?",
        ),
    ),
    (
        "wg_communication",
        (
            "Using your usual language, do you have difficulty communicating, for example "
            "understanding or being understood?",
            "En utilisant votre langue habituelle, avez-vous des difficultés à communiquer, par "
            "exemple à comprendre les autres ou à vous faire comprendre ?",
        ),
    ),
]

# --- Questions shared by several forms -------------------------------------------------------

AGE_BANDS = "age:15-24,25-39,40-59,60+"
CONSENTED = "${consent} = 'yes'"


def event() -> Row:
    """Return the training (event) question."""
    return question("select_one event", "event", ("Training", "Formation"), required=True)


def participant_code() -> Row:
    """Return the participant code that links registration, tests and follow-up."""
    return question(
        "text",
        "participant_code",
        ("Participant code", "Code du participant ou de la participante"),
        hint=(
            "Two capital letters and four digits, as on the attendance list (e.g. KA0421).",
            "Deux lettres majuscules et quatre chiffres, comme sur la liste de présence "
            "(par ex. KA0421).",
        ),
        required=True,
        constraint="regex(., '^[A-Z]{2}[0-9]{4}$')",
        message=(
            "Enter two capital letters followed by four digits, e.g. KA0421.",
            "Saisissez deux lettres majuscules suivies de quatre chiffres, par ex. KA0421.",
        ),
    )


def sex() -> Row:
    """Return the sex question."""
    return question("select_one sex", "sex", ("Sex", "Sexe"), required=True)


def age(minimum: int) -> Row:
    """Return the age question, accepting `minimum` to 99 years."""
    return question(
        "integer",
        "age",
        ("Age (years)", "Âge (en années)"),
        required=True,
        constraint=f". >= {minimum} and . <= 99",
        message=(
            f"Age must be between {minimum} and 99.",
            f"L'âge doit être compris entre {minimum} et 99 ans.",
        ),
    )


def institution() -> Row:
    """Return the institution type question."""
    return question(
        "select_one institution",
        "institution",
        ("Type of institution you work for", "Type d'institution pour laquelle vous travaillez"),
        required=True,
    )


def region(label: Text) -> Row:
    """Return the region question."""
    return question("select_one region", "region", label, required=True)


def count(name: str, label: Text, *, hint: Text | None = None, at_most: str = "") -> Row:
    """Return a required whole-number count, optionally capped by an expression."""
    constraint = ". >= 0" + (f" and . <= {at_most}" if at_most else "")
    message = (
        (
            "Enter a number from 0 up to the number of women plus men.",
            "Saisissez un nombre compris entre 0 et le nombre de femmes et d'hommes.",
        )
        if at_most
        else ("Enter 0 or a positive number.", "Saisissez 0 ou un nombre positif.")
    )
    return question(
        "integer", name, label, hint=hint, required=True, constraint=constraint, message=message
    )


def knowledge_test() -> list[Row]:
    """Return the eight scored knowledge questions, their scores and the total `score`."""
    rows = [
        question(
            "note",
            "test_intro",
            (
                "Choose one answer per question. Answer 'I don't know' rather than guessing.",
                "Choisissez une réponse par question. Répondez « Je ne sais pas » plutôt que de "
                "deviner.",
            ),
        )
    ]
    rows += [
        question(f"select_one {name}_options", name, text, required=True)
        for name, _correct, text, _options in KNOWLEDGE
    ]
    # bind::type int makes the scores numeric in the XForm (a plain calculate is a string).
    rows += [
        question(
            "calculate",
            f"{name}_score",
            calculation=f"if(${{{name}}} = '{correct}', 1, 0)",
            bind_type="int",
        )
        for name, correct, _text, _options in KNOWLEDGE
    ]
    total = " + ".join(f"${{{name}_score}}" for name, *_rest in KNOWLEDGE)
    rows.append(question("calculate", "score", calculation=total, bind_type="int"))
    return rows


def washington_group() -> list[Row]:
    """Return the Washington Group Short Set and the derived `disability` (yes/no)."""
    rows = [
        question(
            "note",
            "wg_intro",
            (
                "The next questions ask about difficulties you may have doing certain activities "
                "because of a health problem.",
                "Les questions suivantes portent sur les difficultés que vous pourriez avoir à "
                "faire certaines activités en raison d'un problème de santé.",
            ),
        )
    ]
    rows += [question("select_one wg", name, text, required=True) for name, text in WG_DOMAINS]
    severe = " or ".join(
        f"${{{name}}} = '{level}'"
        for name, _text in WG_DOMAINS
        for level in ("a_lot_of_difficulty", "cannot_do")
    )
    # A read-only select_one rather than a bare `calculate`: the value is still computed, but
    # the field has a choice list, so the report can disaggregate by it and show zero rows.
    rows.append(
        question(
            "select_one yes_no",
            "disability",
            (
                "Disability (Washington Group cut-off, calculated)",
                "Handicap (seuil du Washington Group, calculé)",
            ),
            hint=(
                "Set automatically: yes if at least one answer above is 'a lot of difficulty' "
                "or 'cannot do at all'.",
                "Renseigné automatiquement : oui si au moins une réponse ci-dessus est "
                "« beaucoup de difficultés » ou « ne peut pas du tout ».",
            ),
            calculation=f"if({severe}, 'yes', 'no')",
            read_only=True,
        )
    )
    return rows


# --- The six forms ---------------------------------------------------------------------------


def training_registration() -> Form:
    """Return the participant registration form for a training event."""
    survey = [
        *metadata(),
        event(),
        question(
            "select_one yes_no",
            "consent",
            (
                "Do you agree to register for this training and to have your answers recorded?",
                "Acceptez-vous de vous inscrire à cette formation et que vos réponses soient "
                "enregistrées ?",
            ),
            hint=(
                "Your answers are used to organize the training and to report how many people "
                "took part. Reports show totals only; your name and contact details are never "
                "published.",
                "Vos réponses servent à organiser la formation et à rendre compte du nombre de "
                "participants. Les rapports ne présentent que des totaux ; vos nom et "
                "coordonnées ne sont jamais publiés.",
            ),
            required=True,
        ),
        *only_if(
            CONSENTED,
            [
                participant_code(),
                question(
                    "text",
                    "full_name",
                    ("Full name", "Nom complet"),
                    required=True,
                    sensitive=True,
                ),
                question(
                    "text",
                    "phone",
                    ("Phone number", "Numéro de téléphone"),
                    hint=(
                        "Include the country code, e.g. +41 22 917 9000.",
                        "Indiquez l'indicatif du pays, par ex. +41 22 917 9000.",
                    ),
                    constraint="regex(., '^[+]?[0-9 ]{6,20}$')",
                    message=(
                        "Use digits and spaces only, optionally starting with +.",
                        "Utilisez uniquement des chiffres et des espaces, éventuellement précédés "
                        "de +.",
                    ),
                    appearance="numbers",
                    sensitive=True,
                ),
                question(
                    "text",
                    "email",
                    ("Email address", "Adresse électronique"),
                    constraint="regex(., '^[^@ ]+@[^@ ]+[.][^@ ]+$')",
                    message=(
                        "Enter a valid email address.",
                        "Saisissez une adresse électronique valide.",
                    ),
                    sensitive=True,
                ),
                sex(),
                age(15),
                institution(),
                region(("Region where you work", "Région où vous travaillez")),
                *washington_group(),
            ],
        ),
    ]
    indicators = [
        Indicator(
            "participants",
            "participation",
            (
                "Participants registered (unique persons)",
                "Participants inscrits (personnes distinctes)",
            ),
            "distinct",
            "participant_code",
            by=f"sex institution {AGE_BANDS} disability region sex*institution",
        ),
        Indicator(
            "women_share",
            "participation",
            ("Share of women among registrations", "Proportion de femmes parmi les inscriptions"),
            "percent",
            "sex",
            condition="${sex} = 'female'",
            target=50,
        ),
        Indicator(
            "disability_share",
            "participation",
            (
                "Share of registrations by persons with disabilities (Washington Group)",
                "Proportion d'inscriptions de personnes handicapées (Washington Group)",
            ),
            "percent",
            "disability",
            condition="${disability} = 'yes'",
        ),
    ]
    return Form(
        "training_registration",
        "Training registration / Inscription à la formation",
        survey,
        indicators,
    )


def training_pretest() -> Form:
    """Return the knowledge test taken at the start of a training."""
    survey = [
        *metadata(),
        event(),
        participant_code(),
        sex(),
        age(15),
        institution(),
        *knowledge_test(),
    ]
    indicators = [
        Indicator(
            "pretests",
            "participation",
            ("Pre-tests completed", "Pré-tests remplis"),
            "count",
            by="event sex",
        ),
        Indicator(
            "pretest_score",
            "impact",
            ("Mean pre-test score (out of 8)", "Score moyen au pré-test (sur 8)"),
            "mean",
            "score",
            by="sex",
        ),
    ]
    return Form("training_pretest", "Training pre-test / Pré-test de formation", survey, indicators)


def training_posttest() -> Form:
    """Return the knowledge test and evaluation taken at the end of a training."""
    survey = [
        *metadata(),
        event(),
        participant_code(),
        sex(),
        age(15),
        institution(),
        *knowledge_test(),
        question(
            "integer",
            "satisfaction",
            (
                "Overall, how satisfied are you with the training? "
                "(1 = very dissatisfied, 5 = very satisfied)",
                "Dans l'ensemble, êtes-vous satisfait(e) de la formation ? "
                "(1 = très insatisfait(e), 5 = très satisfait(e))",
            ),
            required=True,
            constraint=". >= 1 and . <= 5",
            message=("Enter a number from 1 to 5.", "Saisissez un nombre de 1 à 5."),
        ),
        question(
            "select_one usefulness",
            "usefulness",
            (
                "How useful was the training for your work?",
                "Dans quelle mesure la formation a-t-elle été utile pour votre travail ?",
            ),
            required=True,
        ),
        question(
            "select_multiple intended_use",
            "intended_use",
            (
                "How do you intend to use what you learned in the next three months?",
                "Comment comptez-vous utiliser ce que vous avez appris au cours des trois "
                "prochains mois ?",
            ),
            hint=("Select all that apply.", "Cochez toutes les réponses applicables."),
            required=True,
            constraint=exclusive("none"),
            message=(
                "'None of these' cannot be combined with other answers.",
                "« Aucune de ces utilisations » ne peut être combinée avec d'autres réponses.",
            ),
        ),
        question(
            "text",
            "comments",
            (
                "Any comments or suggestions to improve the training?",
                "Avez-vous des commentaires ou des suggestions pour améliorer la formation ?",
            ),
            appearance="multiline",
        ),
    ]
    indicators = [
        Indicator(
            "knowledge_gain",
            "impact",
            (
                "Change in knowledge score, pre- to post-test (out of 8)",
                "Évolution du score de connaissances entre le pré-test et le post-test (sur 8)",
            ),
            "change",
            "score",
            by="sex",
            baseline_form="training_pretest",
            key="participant_code",
            target=2,
        ),
        Indicator(
            "posttest_score",
            "impact",
            ("Mean post-test score (out of 8)", "Score moyen au post-test (sur 8)"),
            "mean",
            "score",
            by="sex",
        ),
        Indicator(
            "satisfied",
            "impact",
            ("Participants satisfied (4 or 5 of 5)", "Participants satisfaits (4 ou 5 sur 5)"),
            "percent",
            "satisfaction",
            condition="${satisfaction} >= 4",
            target=80,
        ),
        Indicator(
            "intend_to_use",
            "impact",
            (
                "Participants who intend to use what they learned",
                "Participants qui comptent utiliser ce qu'ils ont appris",
            ),
            "percent",
            "intended_use",
            condition=(
                "count-selected(${intended_use}) > 0 and not(selected(${intended_use}, 'none'))"
            ),
            by="institution",
        ),
    ]
    return Form(
        "training_posttest", "Training post-test / Post-test de formation", survey, indicators
    )


def training_followup() -> Form:
    """Return the three-month follow-up on the use of what was learned."""
    used = "${used_learning} = 'yes'"
    survey = [
        *metadata(),
        event(),
        participant_code(),
        sex(),
        institution(),
        question(
            "select_one yes_no",
            "used_learning",
            (
                "In the past three months, have you used in your work what you learned in the "
                "training?",
                "Au cours des trois derniers mois, avez-vous utilisé dans votre travail ce que "
                "vous avez appris lors de la formation ?",
            ),
            required=True,
        ),
        question(
            "select_multiple use_made",
            "uses",
            ("How have you used it?", "De quelle manière l'avez-vous utilisé ?"),
            hint=("Select all that apply.", "Cochez toutes les réponses applicables."),
            required=True,
            relevant=used,
        ),
        question(
            "text",
            "example",
            (
                "Describe one concrete example of how you used it.",
                "Décrivez un exemple concret de la manière dont vous l'avez utilisé.",
            ),
            relevant=used,
            appearance="multiline",
        ),
        question(
            "select_multiple barrier",
            "barriers",
            (
                "What has made it difficult to apply what you learned?",
                "Qu'est-ce qui vous a empêché(e) d'appliquer ce que vous avez appris ?",
            ),
            hint=("Select all that apply.", "Cochez toutes les réponses applicables."),
            required=True,
            constraint=exclusive("none"),
            message=(
                "'No barriers' cannot be combined with other answers.",
                "« Aucun obstacle » ne peut être combiné avec d'autres réponses.",
            ),
        ),
        question(
            "integer",
            "shared_with_colleagues",
            (
                "With how many colleagues have you shared what you learned?",
                "Avec combien de collègues avez-vous partagé ce que vous avez appris ?",
            ),
            hint=("Enter 0 if none.", "Saisissez 0 si aucun."),
            required=True,
            constraint=". >= 0 and . <= 500",
            message=("Enter a number from 0 to 500.", "Saisissez un nombre de 0 à 500."),
        ),
    ]
    indicators = [
        Indicator(
            "used_learning_share",
            "impact",
            (
                "Participants who used what they learned (after three months)",
                "Participants ayant utilisé ce qu'ils ont appris (après trois mois)",
            ),
            "percent",
            "used_learning",
            condition=used,
            by="institution",
            target=60,
        ),
        Indicator(
            "colleagues_reached",
            "impact",
            (
                "Colleagues with whom participants shared what they learned",
                "Collègues avec qui les participants ont partagé ce qu'ils ont appris",
            ),
            "sum",
            "shared_with_colleagues",
        ),
    ]
    return Form(
        "training_followup",
        "Training follow-up (3 months) / Suivi de formation (3 mois)",
        survey,
        indicators,
    )


def consultation_record() -> Form:
    """Return the record of one national consultation session and its recommendations."""
    women_and_men = "${women} + ${men}"
    survey = [
        *metadata(),
        question(
            "select_one consultation",
            "consultation",
            ("Consultation process", "Processus de consultation"),
            required=True,
        ),
        question(
            "date",
            "session_date",
            ("Date of the session", "Date de la séance"),
            required=True,
            constraint=". <= today()",
            message=("The date cannot be in the future.", "La date ne peut pas être future."),
        ),
        region(("Region", "Région")),
        question("text", "venue", ("Venue", "Lieu de la réunion"), required=True),
        question(
            "geopoint",
            "location",
            ("Location of the venue", "Emplacement du lieu de la réunion"),
        ),
        question(
            "note",
            "count_intro",
            (
                "Count participants from the attendance sheet. Persons with disabilities and "
                "youth are also counted among women or men.",
                "Comptez les participants à partir de la feuille de présence. Les personnes "
                "handicapées et les jeunes sont aussi comptés parmi les femmes ou les hommes.",
            ),
        ),
        count("women", ("Women", "Femmes")),
        count("men", ("Men", "Hommes")),
        count(
            "persons_with_disabilities",
            ("Persons with disabilities", "Personnes handicapées"),
            at_most=women_and_men,
        ),
        count(
            "youth",
            ("Youth (aged 15 to 24)", "Jeunes (15 à 24 ans)"),
            at_most=women_and_men,
        ),
        count(
            "civil_society_orgs",
            (
                "Civil society organizations represented",
                "Organisations de la société civile représentées",
            ),
        ),
        count(
            "government_officials",
            ("Government officials present", "Représentants de l'État présents"),
            at_most=women_and_men,
        ),
        question("calculate", "total", calculation=women_and_men, bind_type="int"),
        question(
            "note",
            "total_note",
            ("Total participants: ${total}", "Nombre total de participants : ${total}"),
        ),
        question(
            "begin_repeat",
            "recommendation",
            ("Recommendation", "Recommandation"),
        ),
        question("select_one theme", "theme", ("Theme", "Thème"), required=True),
        question(
            "text",
            "recommendation_text",
            ("Recommendation, as stated", "Recommandation, telle que formulée"),
            required=True,
            appearance="multiline",
        ),
        question(
            "select_one stakeholder",
            "raised_by",
            ("Raised by", "Formulée par"),
            required=True,
        ),
        question("select_one priority", "priority", ("Priority", "Priorité"), required=True),
        question("end_repeat", ""),
    ]
    indicators = [
        Indicator(
            "consultation_sessions",
            "participation",
            ("Consultation sessions held", "Séances de consultation tenues"),
            "count",
            by="consultation region",
        ),
        Indicator(
            "consultation_participants",
            "participation",
            (
                "People who took part in consultations",
                "Personnes ayant pris part aux consultations",
            ),
            "sum",
            "total",
            by="region",
        ),
        Indicator(
            "consultation_women",
            "participation",
            ("Women who took part in consultations", "Femmes ayant pris part aux consultations"),
            "sum",
            "women",
            by="region",
        ),
        Indicator(
            "consultation_pwd",
            "participation",
            (
                "Persons with disabilities who took part in consultations",
                "Personnes handicapées ayant pris part aux consultations",
            ),
            "sum",
            "persons_with_disabilities",
        ),
        Indicator(
            "consultation_youth",
            "participation",
            (
                "Young people (aged 15 to 24) who took part in consultations",
                "Jeunes (15 à 24 ans) ayant pris part aux consultations",
            ),
            "sum",
            "youth",
        ),
        Indicator(
            "gender_balanced_sessions",
            "participation",
            (
                "Sessions where at least 30% of participants were women",
                "Séances dont au moins 30 % des participants étaient des femmes",
            ),
            "percent",
            "total",
            where="${total} > 0",
            condition="${women} div ${total} >= 0.3",
        ),
    ]
    return Form(
        "consultation_record",
        "National consultation record / Fiche de séance de consultation nationale",
        survey,
        indicators,
    )


def beneficiary_feedback() -> Form:
    """Return the feedback form for rights-holders taking part in a project."""
    survey = [
        *metadata(),
        question(
            "select_one yes_no",
            "consent",
            (
                "Do you agree to answer questions about your experience of the project?",
                "Acceptez-vous de répondre à des questions sur votre expérience du projet ?",
            ),
            hint=(
                "Taking part is voluntary and you may stop at any time. Results are reported "
                "only as totals that do not identify anyone.",
                "La participation est volontaire et vous pouvez arrêter à tout moment. Les "
                "résultats ne sont présentés que sous forme de totaux qui ne permettent "
                "d'identifier personne.",
            ),
            required=True,
        ),
        *only_if(
            CONSENTED,
            [
                question("select_one project", "project", ("Project", "Projet"), required=True),
                sex(),
                age(18),
                question(
                    "select_one beneficiary_group",
                    "group",
                    ("Which group do you belong to?", "À quel groupe appartenez-vous ?"),
                    required=True,
                ),
                question(
                    "select_one yes_no_pnta",
                    "disability",
                    ("Do you have a disability?", "Êtes-vous en situation de handicap ?"),
                    required=True,
                ),
                region(("Region where you live", "Région où vous vivez")),
                question(
                    "select_one yes_partly_no",
                    "participated_in_design",
                    (
                        "Were you or your organization involved in designing the project?",
                        "Avez-vous, vous ou votre organisation, participé à la conception du "
                        "projet ?",
                    ),
                    required=True,
                ),
                question(
                    "integer",
                    "felt_heard",
                    (
                        "Do you feel that your views were heard and taken into account? "
                        "(1 = not at all, 5 = completely)",
                        "Avez-vous le sentiment que vos avis ont été entendus et pris en "
                        "compte ? (1 = pas du tout, 5 = tout à fait)",
                    ),
                    required=True,
                    constraint=". >= 1 and . <= 5",
                    message=("Enter a number from 1 to 5.", "Saisissez un nombre de 1 à 5."),
                ),
                question(
                    "select_multiple access_barrier",
                    "access_barriers",
                    (
                        "What made it difficult for you to take part in the project?",
                        "Qu'est-ce qui a rendu votre participation au projet difficile ?",
                    ),
                    hint=("Select all that apply.", "Cochez toutes les réponses applicables."),
                    required=True,
                    constraint=exclusive("none"),
                    message=(
                        "'No barriers' cannot be combined with other answers.",
                        "« Aucun obstacle » ne peut être combiné avec d'autres réponses.",
                    ),
                ),
                question(
                    "image",
                    "photo",
                    ("Photo (optional)", "Photo (facultative)"),
                    hint=(
                        "Photograph the activity or place, not people, unless they have agreed.",
                        "Photographiez l'activité ou le lieu, pas les personnes, sauf si elles "
                        "ont donné leur accord.",
                    ),
                    parameters="max-pixels=1024",
                    sensitive=True,
                ),
                question(
                    "geopoint",
                    "location",
                    ("Location of the interview", "Lieu de l'entretien"),
                    sensitive=True,
                ),
                question(
                    "text",
                    "comment",
                    (
                        "Anything else you would like to tell us?",
                        "Souhaitez-vous ajouter autre chose ?",
                    ),
                    appearance="multiline",
                ),
                question(
                    "select_one yes_no",
                    "contact_ok",
                    (
                        "May the project team contact you about your feedback?",
                        "L'équipe du projet peut-elle vous recontacter au sujet de vos réponses ?",
                    ),
                ),
                question(
                    "text",
                    "phone",
                    ("Phone number", "Numéro de téléphone"),
                    relevant="${contact_ok} = 'yes'",
                    constraint="regex(., '^[+]?[0-9 ]{6,20}$')",
                    message=(
                        "Use digits and spaces only, optionally starting with +.",
                        "Utilisez uniquement des chiffres et des espaces, éventuellement précédés "
                        "de +.",
                    ),
                    appearance="numbers",
                    sensitive=True,
                ),
            ],
        ),
    ]
    indicators = [
        Indicator(
            "respondents",
            "participation",
            ("Beneficiaries who gave feedback", "Bénéficiaires ayant donné leur avis"),
            "count",
            by="sex group disability",
        ),
        Indicator(
            "design_participation",
            "participation",
            (
                "Beneficiaries involved in designing the project (fully or partly)",
                "Bénéficiaires associés à la conception du projet (entièrement ou en partie)",
            ),
            "percent",
            "participated_in_design",
            condition="${participated_in_design} != 'no'",
            by="group",
        ),
        Indicator(
            "felt_heard_share",
            "impact",
            (
                "Beneficiaries who felt heard (4 or 5 of 5)",
                "Bénéficiaires qui se sont sentis entendus (4 ou 5 sur 5)",
            ),
            "percent",
            "felt_heard",
            condition="${felt_heard} >= 4",
            by="group",
            target=75,
        ),
    ]
    return Form(
        "beneficiary_feedback",
        "Beneficiary feedback / Avis des bénéficiaires",
        survey,
        indicators,
    )


# --- Writing -----------------------------------------------------------------------------------


def write(form: Form) -> None:
    """Write `form` as an XLSForm workbook with survey, choices, settings and indicators."""
    workbook = openpyxl.Workbook()
    workbook.properties.creator = "forms/make_forms.py"
    workbook.properties.created = workbook.properties.modified = STAMP

    survey = workbook.active
    assert survey is not None
    survey.title = "survey"
    columns = [
        c for c in SURVEY_COLUMNS if c in ALWAYS_WRITTEN or any(row.get(c) for row in form.survey)
    ]
    survey.append(columns)
    for row in form.survey:
        survey.append([row.get(c, "") for c in columns])

    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", f"label::{EN}", f"label::{FR}"])
    for list_name in form.list_names():
        for name, en, fr in CHOICES[list_name]:
            choices.append([list_name, name, en, fr])

    settings = workbook.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([form.title, form.form_id, VERSION, EN])

    indicators = workbook.create_sheet("indicators")
    indicators.append(list(INDICATOR_COLUMNS))
    for indicator in form.indicators:
        indicators.append(indicator.cells())

    for sheet in workbook.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index, column in enumerate(sheet.columns, start=1):
            width = max(len(str(cell.value or "")) for cell in column)
            sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 10), 60)

    buffer = io.BytesIO()
    workbook.save(buffer)
    form.path.write_bytes(fixed_timestamps(buffer.getvalue()))


def fixed_timestamps(xlsx: bytes) -> bytes:
    """Return `xlsx` with every zip entry dated STAMP, so the same content gives the same bytes."""
    # openpyxl stamps docProps/core.xml with the time of saving, whatever the workbook says.
    modified = rb"\g<1>" + STAMP.isoformat().encode() + b"Z"
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=STAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", modified, data)
            target.writestr(entry, data)
    return out.getvalue()


# --- Checking ----------------------------------------------------------------------------------


def field_types(form: Form) -> dict[str, str]:
    """Return {question name: type} for the form's data fields (notes and groups left out)."""
    types: dict[str, str] = {}
    for row in form.survey:
        kind = row["type"].split()[0]
        if kind in {"note", "begin_repeat", "end_repeat", "begin_group", "end_group"}:
            continue
        numeric_calculate = kind == "calculate" and row.get("bind::type") in {"int", "decimal"}
        types[row["name"]] = "integer" if numeric_calculate else kind
    return types


def check_expression(expression: str, fields: dict[str, str]) -> list[str]:
    """Return problems with an indicator expression: unknown refs or unsupported functions."""
    problems = [
        f"unknown ${{{ref}}}" for ref in re.findall(r"\$\{(\w+)\}", expression) if ref not in fields
    ]
    for function in re.findall(r"([a-z][a-z-]*)\s*\(", expression):
        if function not in EXPRESSION_FUNCTIONS | {"and", "or", "div"}:  # "and (" is grouping
            problems.append(f"function {function}() is not in evaluation.md")
    return problems


def check_by_item(item: str, fields: dict[str, str]) -> list[str]:
    """Return problems with one `by` item: a select, a banded number or a cross of those."""
    parts = item.split("*")
    if len(parts) > 3:
        return [f"by {item}: a cross has at most three parts"]
    problems = []
    for part in parts:
        name, _, bands = part.partition(":")
        kind = fields.get(name)
        if kind is None:
            problems.append(f"by {item}: unknown question {name}")
        elif bands and kind not in NUMERIC_TYPES:
            problems.append(f"by {item}: bands need a numeric question, {name} is {kind}")
        elif not bands and kind not in {"select_one", "select_multiple"}:
            problems.append(f"by {item}: {name} is {kind}, not a select")
    return problems


def check_indicators(forms: list[Form]) -> list[str]:
    """Return problems with the indicators sheets, following docs/indicators.md."""
    problems: list[str] = []
    by_id = {form.form_id: form for form in forms}
    seen: set[str] = set()
    for form in forms:
        fields = field_types(form)
        for ind in form.indicators:
            where = f"{form.form_id}/{ind.name}"
            found: list[str] = []
            if not re.fullmatch(r"[a-z][a-z0-9_]*", ind.name) or ind.name in seen:
                found.append("name is invalid or not unique in the project")
            seen.add(ind.name)
            if ind.section not in {"participation", "impact"} or ind.type not in INDICATOR_TYPES:
                found.append("bad section or type")
            if ind.type != "count" and ind.field not in fields:
                found.append(f"field {ind.field!r} is not a question of this form")
            if ind.type in {"sum", "mean", "change"} and fields.get(ind.field) not in NUMERIC_TYPES:
                found.append(f"{ind.type} needs a numeric field")
            if (ind.type == "percent") != bool(ind.condition):
                found.append("condition is required for percent, and only for percent")
            for expression in (ind.where, ind.condition):
                found += check_expression(expression, fields)
            for item in ind.by.split():
                found += check_by_item(item, fields)
            if ind.type == "change":
                baseline = by_id.get(ind.baseline_form)
                if baseline is None:
                    found.append(f"baseline_form {ind.baseline_form!r} is not one of the forms")
                elif not {ind.field, ind.key} <= field_types(baseline).keys():
                    found.append("field and key must be questions of the baseline form too")
                if ind.key not in fields:
                    found.append(f"key {ind.key!r} is not a question of this form")
            problems += [f"{where}: {problem}" for problem in found]
    return problems


def check_labels(form: Form) -> list[str]:
    """Return rows and choices that lack an English or French label."""
    problems = []
    for row in form.survey:
        needs_label = row["type"].split()[0] not in {
            "start",
            "end",
            "today",
            "deviceid",
            "calculate",
            "end_repeat",
        }
        if needs_label and not (row.get(f"label::{EN}") and row.get(f"label::{FR}")):
            problems.append(f"{form.form_id}/{row['name']}: missing English or French label")
    for list_name in form.list_names():
        for name, en, fr in CHOICES[list_name]:
            if not (en and fr):
                problems.append(f"{form.form_id}: choice {list_name}/{name} lacks a label")
    return problems


def convert_problems(form: Form) -> list[str]:
    """Convert the written workbook with pyxform and ODK Validate; return errors and warnings."""
    try:
        result = convert(xlsform=form.path.read_bytes(), file_type=".xlsx", validate=True)
    except (PyXFormError, ODKValidateError) as error:
        return [f"{form.form_id}: {error}"]
    return [f"{form.form_id}: warning: {warning}" for warning in result.warnings]


def main() -> int:
    """Write every form, check it, and return a process exit status."""
    forms = [
        training_registration(),
        training_pretest(),
        training_posttest(),
        training_followup(),
        consultation_record(),
        beneficiary_feedback(),
    ]
    problems = check_indicators(forms)
    for form in forms:
        write(form)
        problems += check_labels(form) + convert_problems(form)
        status = "ok" if not any(p.startswith(form.form_id) for p in problems) else "FAILED"
        sys.stdout.write(f"{form.path.relative_to(FORMS_DIR.parent)}: {status}\n")
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
