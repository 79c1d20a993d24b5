"""Deterministic sample stories for the demo site of a fictional city paper, stdlib only."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Final

SECTIONS: tuple[str, ...] = ("world", "politics", "business", "tech", "science", "sport", "culture")

MAX_STORIES: Final[int] = 2000
_CITY: Final[str] = "Brightwater"
_NEWEST_DAY: Final[datetime] = datetime(2026, 11, 26, tzinfo=UTC)
_DAYS_BACK: Final[int] = 14
_ATTEMPTS: Final[int] = 400
_ID_STEM_MAX: Final[int] = 90
_ARTICLES: Final[frozenset[str]] = frozenset({"a", "an", "the"})

# (headline template, one-sentence summary template); slots are filled from the word lists.
_Template = tuple[str, str]
_Slots = dict[str, tuple[str, ...]]

_COMMON: Final[_Slots] = {
    "city": (_CITY,),
    "district": (
        "Northgate",
        "the Old Harbour",
        "Millbrook",
        "Riverside",
        "Kingsfield",
        "the East Quay",
        "Elm Hill",
        "Castle Ward",
        "Saltmarsh",
        "Westbridge",
        "Hollow Lane",
        "Fairhaven",
    ),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "few": ("two", "three", "four", "five", "six", "seven", "eight"),
    "month": ("January", "February", "March", "April", "May", "June", "September", "October"),
    "pct": ("3", "4", "6", "8", "9", "12", "15", "18", "22", "27"),
    "thousands": ("2,000", "4,500", "8,000", "12,000", "15,000", "25,000", "40,000", "60,000"),
}

_SECTION_DATA: Final[dict[str, tuple[tuple[_Template, ...], _Slots]]] = {
    "world": (
        (
            (
                "Talks in {wcity} end without agreement on {wtopic}",
                "Negotiators left {wcity} after {few} days of talks on {wtopic}, saying they hope "
                "to return to the table early next year.",
            ),
            (
                "{bloc} sign landmark pact on {wtopic} in {wcity}",
                "{bloc} agreed a binding framework on {wtopic} at a summit in {wcity}, with the "
                "first measures due to take effect in {month}.",
            ),
            (
                "Thousands displaced as {disaster} hit {region}",
                "Aid agencies say thousands of families in {region} have left their homes after "
                "{disaster}, with {aid} now being flown in.",
            ),
            (
                "{city} sends {aid} to {region} after {disaster}",
                "The city's emergency team is shipping {aid} to {region}, where {disaster} have "
                "cut roads and power to dozens of communities.",
            ),
            (
                "{bloc} pledge {wmoney} for {cause} after {wcity} summit",
                "Ministers meeting in {wcity} committed {wmoney} to {cause}, although campaigners "
                "said the sum falls well short of what is needed.",
            ),
            (
                "Envoys gather in {wcity} for rare round of talks on {wtopic}",
                "Diplomats from {bloc} arrived in {wcity} on {day} for the first talks on "
                "{wtopic} in {few} years, amid cautious hopes of a deal.",
            ),
            (
                "Global survey ranks {city} among top cities for {quality}",
                "An international survey of more than 200 cities placed {city} in its top tier "
                "for {quality}, ahead of several national capitals.",
            ),
            (
                "Ferry link between {city} and {port} to restart after {pause}-year pause",
                "The long-haul ferry route to {port} will resume in {month}, operators said, "
                "after a {pause}-year suspension blamed on rising fuel costs.",
            ),
        ),
        {
            "wcity": (
                "Geneva",
                "Nairobi",
                "Lisbon",
                "Singapore",
                "Montreal",
                "Oslo",
                "Santiago",
                "Vienna",
                "Cape Town",
                "Reykjavik",
                "Auckland",
                "Valletta",
            ),
            "wtopic": (
                "fishing rights",
                "river water sharing",
                "shipping lanes",
                "grain exports",
                "plastic pollution",
                "deep-sea mining",
                "Arctic shipping routes",
                "vaccine supply",
                "coral reef protection",
                "migratory bird habitats",
                "cross-border rail links",
                "ocean carbon monitoring",
            ),
            "bloc": (
                "Coastal nations",
                "Pacific island states",
                "Alpine countries",
                "Nordic governments",
                "Mediterranean ports",
                "Andean nations",
                "Baltic states",
                "Central Asian neighbours",
                "Caribbean governments",
                "Indian Ocean states",
            ),
            "disaster": (
                "floods",
                "wildfires",
                "landslides",
                "tropical storms",
                "severe droughts",
                "heavy snowstorms",
                "tidal surges",
            ),
            "region": (
                "southern coastal provinces",
                "the northern highlands",
                "river delta towns",
                "remote island villages",
                "the central plains",
                "mountain border regions",
                "eastern farming districts",
            ),
            "aid": (
                "emergency shelters",
                "water purification kits",
                "field hospitals",
                "food parcels",
                "rescue teams",
                "generators and blankets",
            ),
            "cause": (
                "ocean clean-up",
                "coral reef protection",
                "flood defences",
                "clean water projects",
                "reforestation",
                "wildlife corridors",
            ),
            "port": ("Lisbon", "Oslo", "Reykjavik", "Valletta", "Rotterdam", "Bilbao"),
            "pause": ("two", "three", "four", "five"),
            "wmoney": ("$450m", "$1.2bn", "$2bn", "$800m", "$3.5bn", "$600m"),
            "quality": (
                "quality of life",
                "cycling",
                "clean air",
                "public libraries",
                "street food",
                "green space",
                "public transport",
                "safety after dark",
            ),
        },
    ),
    "politics": (
        (
            (
                "Council approves {policy} after {duration} of debate",
                "Councillors voted {votes} in favour of {policy} on {day}, ending {duration} of "
                "wrangling over cost and timing.",
            ),
            (
                "{official} backs {policy} despite cost concerns",
                "{official} said {policy} would pay for itself within {few} years, brushing aside "
                "warnings from auditors about rising costs.",
            ),
            (
                "Row erupts over {policy} as {official} demands answers",
                "{official} has demanded a full breakdown of spending on {policy}, accusing "
                "officials of keeping councillors in the dark.",
            ),
            (
                "Budget gap of {lmoney} forces rethink on {policy}",
                "A {lmoney} hole in next year's budget means plans for {policy} are likely to be "
                "scaled back, council papers published on {day} show.",
            ),
            (
                "By-election in {district} set for {month} after councillor steps down",
                "Voters in {district} will choose a new councillor in {month} after the sitting "
                "member resigned, citing family reasons.",
            ),
            (
                "Residents of {district} to vote on {policy} in local referendum",
                "People living in {district} will get a direct say on {policy} in a referendum "
                "that the council has promised to respect.",
            ),
            (
                "{official} unveils plan for {policy} in {district}",
                "{official} set out a plan on {day} to introduce {policy} in {district} first, "
                "with a wider rollout to follow if it proves popular.",
            ),
            (
                "Petition calling for {policy} passes {thousands} signatures",
                "A petition demanding {policy} has passed {thousands} signatures, meaning it must "
                "now be debated at a full meeting of the council.",
            ),
            (
                "Consultation on {policy} draws record response from residents",
                "More than {thousands} people answered the consultation on {policy}, the largest "
                "response the council has ever received.",
            ),
        ),
        {
            "official": (
                "the mayor",
                "the council leader",
                "the opposition group",
                "the finance committee chair",
                "the transport committee",
                "ward councillors",
                "the planning board",
                "the deputy mayor",
            ),
            "policy": (
                "a new tram line",
                "a congestion charge",
                "free school meals",
                "a tourist tax",
                "all-night bus services",
                "a ban on disposable cups",
                "rent controls",
                "a citywide 20mph limit",
                "parking permit reforms",
                "a new youth centre",
                "brighter street lighting",
                "a riverside cycle lane",
                "a car-free city centre",
                "more public toilets",
            ),
            "duration": ("a decade", "three years", "eighteen months", "two years", "six months"),
            "votes": ("31 to 18", "27 to 22", "40 to 9", "25 to 24", "33 to 16", "29 to 20"),
            "lmoney": ("£4.2m", "£12m", "£7.5m", "£16m", "£2.8m", "£23m"),
        },
    ),
    "business": (
        (
            (
                "{company} to create {jobs} jobs with new {facility} in {district}",
                "{company} will hire {jobs} people at a new {facility} in {district}, with "
                "recruitment expected to start in {month}.",
            ),
            (
                "{company} shares jump {pct}% after {result}",
                "Shares in {company} rose {pct}% on {day} after {result}, lifting the firm to its "
                "highest value in more than a year.",
            ),
            (
                "{company} to cut {jobs} jobs as {reason}",
                "{company} said it will shed {jobs} roles over the next year as {reason}, adding "
                "that it hopes to avoid compulsory redundancies.",
            ),
            (
                "Shop rents on {district} high street rise {pct}% as independents struggle",
                "Landlords in {district} have raised rents by {pct}% on average this year, and "
                "several long-standing independent shops say they may close.",
            ),
            (
                "{city} house prices climb {pct}% in a year, fastest pace since {year}",
                "The typical home in {city} now costs {pct}% more than a year ago, the quickest "
                "rise since {year}, according to new figures.",
            ),
            (
                "Record year for {city} port as {cargo} shipments surge",
                "The port handled more {cargo} than in any previous year, and its operators say "
                "a new berth will be needed by {month} next year.",
            ),
            (
                "{company} agrees {bmoney} deal to buy {company2}",
                "{company} will buy {company2} in a deal worth {bmoney}, creating one of the "
                "largest employers in the region.",
            ),
            (
                "Small firms in {district} warn of squeeze from {pressure}",
                "Business owners in {district} say {pressure} could force them to cut hours or "
                "close altogether before the end of the year.",
            ),
        ),
        {
            "company": (
                "Harbourline Ferries",
                "Northgate Brewing",
                "Millbrook Foods",
                "Castleway Bank",
                "Quayside Logistics",
                "Elm Hill Textiles",
                "Riverside Motors",
                "Saltmarsh Energy",
                "Kingsfield Retail",
                "Westbridge Dairies",
                "Old Harbour Shipping",
                "Fairhaven Builders",
            ),
            "facility": (
                "headquarters",
                "regional office",
                "research hub",
                "training academy",
                "customer service centre",
                "innovation centre",
            ),
            "jobs": ("40", "85", "120", "150", "250", "300", "450", "600"),
            "result": (
                "strong half-year results",
                "a surprise takeover approach",
                "a record holiday season",
                "an upbeat sales forecast",
                "a surprise profit upgrade",
            ),
            "reason": (
                "demand slows",
                "energy costs soar",
                "customers move online",
                "it closes two older sites",
                "profits fall sharply",
                "it restructures",
            ),
            "year": ("2007", "2014", "2016", "2021", "2022"),
            "cargo": ("timber", "grain", "container", "car", "wind turbine", "fruit"),
            "bmoney": ("£40m", "£95m", "£120m", "£210m", "£350m", "£18m"),
            "pressure": (
                "rising energy bills",
                "higher business rates",
                "months of roadworks",
                "staff shortages",
                "soaring insurance costs",
                "a drop in tourist numbers",
            ),
        },
    ),
    "tech": (
        (
            (
                "Startup {startup} raises {tmoney} to expand its {product}",
                "{startup}, founded {few} years ago in {district}, has raised {tmoney} from "
                "investors to grow its {product} across the country.",
            ),
            (
                "{startup} launches {product} aimed at {audience}",
                "The {city} firm {startup} says its new {product} is designed for {audience} and "
                "will be free for the first {few} months.",
            ),
            (
                "Chipmaker to build {fabmoney} plant on the outskirts of {city}",
                "A semiconductor firm plans a {fabmoney} factory near {district}, promising "
                "hundreds of jobs making chips for {device}.",
            ),
            (
                "Free public wifi to reach every street in {district} by {month}",
                "The council says its free wifi network will cover all of {district} by {month}, "
                "after a trial drew {thousands} regular users.",
            ),
            (
                "Security flaw in popular {product} exposed data of {thousands} users",
                "A flaw in a widely used {product} left the details of {thousands} users open to "
                "anyone, security researchers said on {day}.",
            ),
            (
                "{startup} unveils low-power chip designed for {device}",
                "{startup} says its new chip for {device} uses a fraction of the power of "
                "existing designs, and it expects first shipments in {month}.",
            ),
            (
                "Council's new {service} app crashes as {thousands} residents log on",
                "The new {service} app went offline within hours of launch on {day} after "
                "{thousands} residents tried to use it at once.",
            ),
            (
                "{startup} moves headquarters to {district} and hires {jobs} engineers",
                "{startup} is leaving its rented offices for a converted warehouse in {district}, "
                "and plans to take on {jobs} engineers by {month}.",
            ),
            (
                "Trial of {robot} robots begins on the streets of {district}",
                "A fleet of {robot} robots began a {months}-month trial in {district} on {day}, "
                "watched closely by curious residents and council inspectors.",
            ),
        ),
        {
            "startup": (
                "Lumenfold",
                "Quillstack",
                "Tidewire",
                "Parcelbird",
                "Nimbleroot",
                "Glasshopper",
                "Orbitly",
                "Cobalt Finch",
                "Sparkmesh",
                "Driftcode",
                "Harbourbyte",
            ),
            "product": (
                "delivery app",
                "budgeting app",
                "smart thermostat",
                "AI tutoring tool",
                "language-learning app",
                "ride-sharing service",
                "home battery system",
                "parking app",
                "password manager",
                "video-calling platform",
            ),
            "audience": (
                "small businesses",
                "older users",
                "students",
                "busy parents",
                "cyclists",
                "first-time buyers",
                "local shops",
            ),
            "tmoney": ("£2m", "£4.5m", "£8m", "£15m", "£30m", "£60m"),
            "fabmoney": ("£250m", "£400m", "£600m", "£1.2bn", "£2bn"),
            "device": (
                "smart cameras",
                "hearing aids",
                "e-bikes",
                "drones",
                "fitness trackers",
                "electric cars",
                "solar inverters",
            ),
            "service": (
                "bin collection",
                "parking permit",
                "library",
                "bus ticket",
                "school place",
            ),
            "jobs": ("20", "35", "50", "80", "120"),
            "months": ("three", "six", "nine", "twelve"),
            "robot": ("delivery", "street-sweeping", "litter-picking", "pavement-mapping"),
        },
    ),
    "science": (
        (
            (
                "Rare {sea_creature} spotted in {sea_place} for the first time in {years} years",
                "Volunteers recording wildlife in {sea_place} photographed a {sea_creature} on "
                "{day}, the first confirmed sighting there in {years} years.",
            ),
            (
                "Rare {land_creature} spotted in {land_place} for the first time in {years} years",
                "Volunteers recording wildlife in {land_place} photographed a {land_creature} on "
                "{day}, the first confirmed sighting there in {years} years.",
            ),
            (
                "{health} study links {good_factor} to {good_outcome}",
                "Researchers at {health} followed {thousands} residents and found that "
                "{good_factor} was associated with {good_outcome}.",
            ),
            (
                "{health} researchers link {bad_factor} to {bad_outcome}",
                "A {span}-year study by {health} suggests that {bad_factor} is linked to "
                "{bad_outcome}, especially among older residents.",
            ),
            (
                "Observatory telescope on Elm Hill captures {sky}",
                "Astronomers at the Elm Hill observatory recorded {sky} on {day} night, and say "
                "the images are the clearest they have taken.",
            ),
            (
                "Scientists fit tiny trackers to {migrants} to follow their migration",
                "A team from {uni} has fitted lightweight trackers to {few} dozen {migrants} to "
                "learn exactly where they travel and which routes they take.",
            ),
            (
                "Water quality in the {river} improves as {measure}",
                "Tests on the {river} show oxygen levels at their best in decades, "
                "which scientists credit to {measure} over the past {few} years.",
            ),
            (
                "{uni} team wins {smoney} grant to study {topic}",
                "Scientists at {uni} have been awarded {smoney} to spend {few} years studying "
                "{topic}, with fieldwork starting in {month}.",
            ),
            (
                "Fossil of {fossil} unearthed during building work in {district}",
                "Builders in {district} stopped work after uncovering {fossil}, which experts from "
                "the city museum say could be millions of years old.",
            ),
        ),
        {
            "uni": (
                "Brightwater University",
                "the Harbour Institute",
                "Kingsfield College",
            ),
            "span": ("two", "three", "five", "ten", "twenty"),
            "health": (
                "Brightwater University",
                "the Riverside Medical School",
                "Kingsfield College",
            ),
            "sea_creature": (
                "grey seal",
                "seahorse",
                "basking shark",
                "porpoise",
                "sea turtle",
                "dolphin",
            ),
            "sea_place": ("the Old Harbour", "the estuary", "Fairhaven bay", "the East Quay"),
            "land_creature": (
                "barn owl",
                "stag beetle",
                "red kite",
                "pine marten",
                "hazel dormouse",
                "hedgehog",
                "great crested newt",
            ),
            "land_place": (
                "Elm Hill woods",
                "Riverside Park",
                "Kingsfield cemetery",
                "the Castle Ward allotments",
                "Hollow Lane woods",
            ),
            "migrants": (
                "swifts",
                "swallows",
                "curlews",
                "terns",
                "cuckoos",
                "eels",
                "brent geese",
            ),
            "years": ("12", "20", "25", "30", "40", "50", "70"),
            "good_factor": (
                "living near green space",
                "cycling to work",
                "school gardening clubs",
                "regular choir singing",
                "owning a dog",
                "daily walks by the sea",
            ),
            "good_outcome": (
                "better sleep",
                "lower blood pressure",
                "improved test scores",
                "fewer sick days",
                "better mood in winter",
                "stronger bones in later life",
            ),
            "bad_factor": (
                "late-night screen use",
                "traffic noise",
                "air pollution",
                "long commutes",
                "skipping breakfast",
                "poorly insulated homes",
            ),
            "bad_outcome": (
                "poorer sleep",
                "higher stress levels",
                "more frequent colds",
                "slower reaction times",
                "worse asthma symptoms",
                "lower concentration",
            ),
            "sky": (
                "a rare green comet",
                "a spectacular meteor shower",
                "a vivid display of aurora",
                "a distant supernova",
                "the rings of Saturn in sharp detail",
            ),
            "river": ("River Brill", "Millbrook stream", "estuary", "River Hollow"),
            "measure": (
                "sewage overflows are cut",
                "farm run-off falls",
                "old factories close",
                "wetlands are restored",
                "reed beds are replanted",
            ),
            "smoney": ("£250,000", "£400,000", "£1.1m", "£2.4m", "£3m", "£750,000"),
            "topic": (
                "rising sea levels",
                "urban heat",
                "microplastics in the estuary",
                "declining bee numbers",
                "ageing bridges",
                "coastal erosion",
                "soil health on city farms",
            ),
            "fossil": (
                "a giant ammonite",
                "an ancient crocodile",
                "a woolly mammoth tooth",
                "a prehistoric fish",
                "a fossilised tree trunk",
                "an ichthyosaur jaw",
            ),
        },
    ),
    "sport": (
        (
            (
                "{club} beat {club2} {score} to go top of the league",
                "{club} moved to the top of the table with a {score} win over {club2} on {day}, "
                "their {nth} victory in a row.",
            ),
            (
                "Late winner sends {club} into the cup {round} at the expense of {club2}",
                "A stoppage-time goal gave {club} a dramatic win over {club2} and a place in the "
                "cup {round}, sparking wild celebrations in the away end.",
            ),
            (
                "{club} and {club2} share the points in {draw} derby thriller",
                "{club} and {club2} fought out a {draw} draw on {day}, with both sides finishing "
                "the match with ten men.",
            ),
            (
                "{club} manager sacked after {losses} straight defeats",
                "{club} have parted company with their manager after {losses} consecutive losses "
                "left the club close to the relegation places.",
            ),
            (
                "{club} sign {player} on a {term}-year deal",
                "{club} have completed the signing of {player}, who has agreed a {term}-year "
                "contract and could make a debut against {club2} on {day}.",
            ),
            (
                "{city} marathon draws record {runners} runners despite {weather}",
                "A record {runners} runners finished the {city} marathon on {day}, braving "
                "{weather} along the seafront route.",
            ),
            (
                "{club} unveil plans for new {capacity}-seat stadium in {district}",
                "{club} want to leave their ageing ground for a {capacity}-seat stadium in "
                "{district}, subject to planning approval.",
            ),
            (
                "{club} fans angry as season ticket prices rise {pct}%",
                "Supporters' groups say the {pct}% rise in {club} season ticket prices will "
                "price out families, and have called for a protest on {day}.",
            ),
            (
                "{city} rowing crew wins the {regatta} by {margin}",
                "The {city} eight won the {regatta} by {margin} on {day}, the club's best result "
                "in more than {pause} decades.",
            ),
        ),
        {
            "club": (
                "Brightwater Rovers",
                "Harbour City",
                "Northgate Athletic",
                "Millbrook Town",
                "Riverside United",
                "Castle Ward Wanderers",
                "Kingsfield Albion",
                "Saltmarsh Rangers",
                "Westbridge Villa",
                "Fairhaven Harriers",
            ),
            "score": ("2-1", "3-0", "1-0", "4-2", "3-1", "2-0", "4-1"),
            "draw": ("1-1", "2-2", "3-3", "4-4"),
            "losses": ("five", "six", "seven", "eight", "nine"),
            "term": ("two", "three", "four", "five"),
            "pause": ("two", "three", "four"),
            "runners": ("9,500", "12,000", "14,800", "18,000", "21,000"),
            "nth": ("third", "fourth", "fifth", "sixth", "seventh"),
            "round": ("quarter-finals", "semi-finals", "final"),
            "player": (
                "a highly rated young goalkeeper",
                "an experienced centre-back",
                "a prolific second-tier striker",
                "a versatile Brazilian midfielder",
                "a teenage winger from the academy",
                "a veteran left-back",
            ),
            "weather": (
                "driving rain",
                "gusty winds",
                "early-morning fog",
                "unseasonable heat",
                "a bitter cold snap",
            ),
            "capacity": ("22,000", "25,000", "30,000", "35,000", "40,000"),
            "regatta": (
                "national championship",
                "autumn head race",
                "coastal regatta",
                "varsity challenge cup",
                "harbour sprint",
            ),
            "margin": ("half a length", "two lengths", "a canvas", "three seconds", "a length"),
        },
    ),
    "culture": (
        (
            (
                "{venue} to reopen after {cmoney} restoration",
                "{venue} will welcome audiences again in {month} after a {cmoney} restoration "
                "that uncovered original murals and plasterwork.",
            ),
            (
                "{arts_fest} returns to {district} with {few} days of {art}",
                "{arts_fest} is back in {district} this {season}, promising {few} days of {art} "
                "and more free events than ever before.",
            ),
            (
                "Local band {band} to headline {music_fest} this {season}",
                "{band}, who formed in {district} {few} years ago, will headline {music_fest}, "
                "organisers announced on {day}.",
            ),
            (
                "Exhibition of {exhibit} opens at {gallery}",
                "A new exhibition of {exhibit} opened at {gallery} on {day} "
                "and runs until {month}, with free entry for city residents.",
            ),
            (
                "Novel set in {district} shortlisted for national fiction prize",
                "A debut novel set among the streets of {district} is on the shortlist for a "
                "national fiction prize, with the winner named in {month}.",
            ),
            (
                "{stage} announces {season} season with {few} new productions",
                "{stage} will stage {few} new productions this {season}, including a musical "
                "about the building of the {city} docks.",
            ),
            (
                "Street artists transform {district} underpass with {mural}",
                "A team of street artists spent {few} weeks painting {mural} along the "
                "{district} underpass, turning it into a local landmark.",
            ),
            (
                "Record crowds as {festival} marks its {anniv} anniversary",
                "Organisers say more than {crowd} people attended {festival} as it celebrated "
                "its {anniv} anniversary with events across {district}.",
            ),
        ),
        {
            "venue": (
                "the Old Harbour Theatre",
                "the Castle Ward Playhouse",
                "Riverside Concert Hall",
                "the Kingsfield Gallery",
                "the city museum",
                "the Millbrook Picture House",
                "the Corn Exchange arts centre",
            ),
            "cmoney": ("£3m", "£6.5m", "£9m", "£14m", "£1.8m"),
            "festival": (
                "the Brightwater Jazz Festival",
                "the Lantern Festival",
                "the city book festival",
                "the Harbour Film Festival",
                "the Folk on the Quay festival",
                "the Northgate Fringe",
                "the Harbour Lights festival",
            ),
            "arts_fest": (
                "the Lantern Festival",
                "the Brightwater Arts Festival",
                "the Northgate Fringe",
                "the Harbour Summer Festival",
                "the Elm Hill Midsummer Fair",
            ),
            "music_fest": (
                "the Brightwater Jazz Festival",
                "the Folk on the Quay festival",
                "the Riverside Music Weekend",
                "the Harbour Lights festival",
            ),
            "gallery": (
                "the Kingsfield Gallery",
                "the city museum",
                "the Corn Exchange arts centre",
                "the Old Harbour maritime museum",
            ),
            "stage": (
                "the Old Harbour Theatre",
                "the Castle Ward Playhouse",
                "the Lyceum",
                "the Riverside Studio Theatre",
            ),
            "crowd": ("20,000", "35,000", "50,000", "80,000"),
            "art": (
                "live music",
                "new films",
                "readings and talks",
                "street theatre",
                "dance and circus",
                "late-night gigs",
            ),
            "season": ("spring", "summer", "autumn", "winter"),
            "band": (
                "Tidewater Echoes",
                "Salt and Static",
                "Paper Lanterns",
                "Low Tides",
                "Copper Gulls",
                "Velvet Harbour",
            ),
            "exhibit": (
                "lost harbour photographs",
                "early maps of the city",
                "contemporary textile art",
                "vintage film posters",
                "Renaissance drawings",
                "shipbuilders' tools and models",
                "children's book illustrations",
            ),
            "mural": (
                "a giant whale mural",
                "portraits of local heroes",
                "a painted map of the river",
                "a swirling seascape",
                "a wall of hand-painted birds",
            ),
            "anniv": ("10th", "25th", "40th", "50th", "100th"),
        },
    ),
}

_SLOT_RE: Final[re.Pattern[str]] = re.compile(r"\{(\w+)\}")
_SLUG_DROP_RE: Final[re.Pattern[str]] = re.compile(r"[^a-z0-9]+")


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pick_slots(rng: random.Random, names: set[str], slots: _Slots) -> dict[str, str]:
    """Choose a value per slot; a slot named "x2" is a second, different value from list "x"."""
    chosen: dict[str, str] = {}
    for name in sorted(names):
        if name.endswith("2") and name[:-1] in slots:
            continue
        chosen[name] = rng.choice(slots[name])
    for name in sorted(names):
        if name.endswith("2") and name[:-1] in slots:
            base = name[:-1]
            if base not in chosen:
                chosen[base] = rng.choice(slots[base])
            chosen[name] = rng.choice([v for v in slots[base] if v != chosen[base]])
    return chosen


def _compose(rng: random.Random, section: str) -> tuple[str, str]:
    templates, own_slots = _SECTION_DATA[section]
    slots: _Slots = {**_COMMON, **own_slots}
    title_tpl, summary_tpl = rng.choice(templates)
    names = set(_SLOT_RE.findall(title_tpl)) | set(_SLOT_RE.findall(summary_tpl))
    values = _pick_slots(rng, names, slots)
    return _capitalise(title_tpl.format(**values)), _capitalise(summary_tpl.format(**values))


def _slug(title: str, number: int) -> str:
    words = [w for w in _SLUG_DROP_RE.split(title.lower()) if w and w not in _ARTICLES]
    stem = ""
    for word in words:
        candidate = f"{stem}-{word}" if stem else word
        if len(candidate) > _ID_STEM_MAX:
            break
        stem = candidate
    return f"{stem or 'story'}-{number:04d}"


def _published_at(rng: random.Random) -> str:
    day = rng.randrange(1, _DAYS_BACK + 1)
    moment = _NEWEST_DAY - timedelta(days=day)
    moment += timedelta(hours=rng.randint(6, 22), minutes=rng.randrange(0, 60, 5))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _acceptable(title: str, summary: str, seen: set[str]) -> bool:
    return 40 <= len(title) <= 110 and 80 <= len(summary) <= 200 and title not in seen


def demo_stories(count: int = 300, seed: int = 7) -> list[dict[str, str]]:
    """`count` distinct, deterministic sample stories spread across every section.

    Raises ValueError when count is negative or larger than MAX_STORIES.
    """
    if count < 0 or count > MAX_STORIES:
        raise ValueError(f"count must be between 0 and {MAX_STORIES}, got {count}")
    rng = random.Random(seed)
    sections = [SECTIONS[i % len(SECTIONS)] for i in range(count)]
    rng.shuffle(sections)
    seen: set[str] = set()
    stories: list[dict[str, str]] = []
    for number, section in enumerate(sections, start=1):
        for _ in range(_ATTEMPTS):
            title, summary = _compose(rng, section)
            if _acceptable(title, summary, seen):
                break
        else:
            raise ValueError(f"could not find {count} distinct {section} headlines")
        seen.add(title)
        story_id = _slug(title, number)
        stories.append(
            {
                "id": story_id,
                "title": title,
                "url": f"/?story={story_id}",
                "section": section,
                "summary": summary,
                "published_at": _published_at(rng),
            }
        )
    return stories
