// A small curated glossary: medical terms found in records, explained in plain English for the
// patient app. Written for this project; each entry is a term (matched as a whole word or phrase,
// ignoring case) and its explanation.

export interface GlossaryEntry {
  term: string;
  plain: string;
}

export const kGlossary: readonly GlossaryEntry[] = [
  { term: 'hypertensive disorder', plain: 'High blood pressure.' },
  { term: 'hypertension', plain: 'High blood pressure.' },
  { term: 'diabetes mellitus type 2', plain: 'Type 2 diabetes: the body does not use insulin well, so blood sugar runs high.' },
  { term: 'diabetes mellitus type 1', plain: 'Type 1 diabetes: the body makes no insulin, so insulin is taken as injections.' },
  { term: 'asthma', plain: 'A condition of the airways that causes wheezing, coughing and breathlessness.' },
  { term: 'chronic obstructive lung disease', plain: 'COPD: long-term lung damage that makes it hard to breathe out.' },
  { term: 'heart failure', plain: 'The heart does not pump blood around the body as well as it should.' },
  { term: 'dementia', plain: 'A condition that affects memory, thinking and daily activities, and gets worse over time.' },
  { term: 'depressive disorder', plain: 'Depression: low mood that lasts for weeks or months and affects daily life.' },
  { term: 'atrial fibrillation', plain: 'An irregular and often fast heartbeat.' },
  { term: 'chronic kidney disease', plain: 'The kidneys do not filter the blood as well as they should, over a long time.' },
  { term: 'malignant', plain: 'Cancerous.' },
  { term: 'neoplasm', plain: 'A growth of abnormal cells (a tumour).' },
  { term: 'coronary arteriosclerosis', plain: 'Coronary heart disease: the arteries that supply the heart are narrowed.' },
  { term: 'cerebrovascular accident', plain: 'A stroke: the blood supply to part of the brain was cut off.' },
  { term: 'epilepsy', plain: 'A condition of the brain that causes seizures (fits).' },
  { term: 'intellectual disability', plain: 'A learning disability: more difficulty than most people with learning and everyday tasks.' },
  { term: 'schizophrenia', plain: 'A mental health condition that can change how a person thinks, feels and sees the world.' },
  { term: 'rheumatoid arthritis', plain: 'A condition where the immune system attacks the joints, making them painful and swollen.' },
  { term: 'dyspnea', plain: 'Shortness of breath.' },
  { term: 'cellulitis', plain: 'An infection of the skin and the tissue under it.' },
  { term: 'pharyngitis', plain: 'A sore throat caused by inflammation of the throat.' },
  { term: 'urinary tract infectious disease', plain: 'A urinary tract infection (UTI): an infection of the bladder, kidneys or the tubes between them.' },
  { term: 'lower respiratory tract infection', plain: 'A chest infection.' },
  { term: 'pneumonia', plain: 'An infection that inflames the small air sacs of the lungs.' },
  { term: 'anaphylaxis', plain: 'A severe, life-threatening allergic reaction that needs emergency treatment.' },
  { term: 'eruption of skin', plain: 'A skin rash.' },
  { term: 'amlodipine', plain: 'A medicine that lowers blood pressure by relaxing blood vessels.' },
  { term: 'ramipril', plain: 'A medicine that lowers blood pressure and protects the heart and kidneys.' },
  { term: 'losartan', plain: 'A medicine that lowers blood pressure.' },
  { term: 'indapamide', plain: 'A water tablet (diuretic) that lowers blood pressure.' },
  { term: 'metformin', plain: 'A medicine that lowers blood sugar in type 2 diabetes.' },
  { term: 'gliclazide', plain: 'A medicine that helps the body make more insulin to lower blood sugar.' },
  { term: 'atorvastatin', plain: 'A statin: a medicine that lowers cholesterol to protect the heart.' },
  { term: 'salbutamol', plain: 'A reliever inhaler that opens the airways quickly when breathing is difficult.' },
  { term: 'beclometasone', plain: 'A preventer inhaler (a steroid) that calms swelling in the airways.' },
  { term: 'bisoprolol', plain: 'A beta blocker: it slows the heart and lowers blood pressure.' },
  { term: 'furosemide', plain: 'A water tablet (diuretic) that removes extra fluid from the body.' },
  { term: 'apixaban', plain: 'A blood thinner (anticoagulant) that lowers the risk of clots and stroke.' },
  { term: 'edoxaban', plain: 'A blood thinner (anticoagulant) that lowers the risk of clots and stroke.' },
  { term: 'aspirin', plain: 'At a low dose, a medicine that makes blood less likely to clot.' },
  { term: 'sertraline', plain: 'An antidepressant.' },
  { term: 'citalopram', plain: 'An antidepressant.' },
  { term: 'levothyroxine', plain: 'A thyroid hormone tablet for an underactive thyroid.' },
  { term: 'influenza', plain: 'Flu: an infection of the nose, throat and lungs that the yearly vaccine protects against.' },
  { term: 'pneumococcal', plain: 'Protects against pneumococcal infections, such as some kinds of pneumonia and meningitis.' },
  { term: 'herpes zoster', plain: 'Shingles: a painful rash caused by the chickenpox virus waking up again.' },
  { term: 'systolic', plain: 'The higher blood pressure number: the pressure when the heart beats.' },
  { term: 'diastolic', plain: 'The lower blood pressure number: the pressure between heartbeats.' },
  { term: 'hba1c', plain: 'A blood test showing the average blood sugar over the last 2 to 3 months.' },
  { term: 'hemoglobin a1c', plain: 'HbA1c: a blood test showing the average blood sugar over the last 2 to 3 months.' },
  { term: 'egfr', plain: 'A blood test showing how well the kidneys filter the blood.' },
  { term: 'glomerular filtration rate', plain: 'eGFR: a blood test showing how well the kidneys filter the blood.' },
  { term: 'creatinine', plain: 'A waste product in the blood; a high level can mean the kidneys are not working well.' },
  { term: 'cholesterol', plain: 'A fatty substance in the blood; too much can raise the risk of heart disease and stroke.' },
  { term: 'potassium', plain: 'A salt in the blood that the heart and muscles need; too much or too little can be harmful.' },
  { term: 'sodium', plain: 'A salt in the blood that keeps the body\'s water in balance.' },
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The glossary entries whose term appears in `text` (whole words, any case), longest terms first, no repeats. */
export function explain(text: string, glossary: readonly GlossaryEntry[] = kGlossary): GlossaryEntry[] {
  const found: GlossaryEntry[] = [];
  const seenPlain = new Set<string>();
  const sorted = [...glossary].sort((a, b) => b.term.length - a.term.length);
  let rest = text;
  for (const e of sorted) {
    const re = new RegExp(`\\b${escapeRegExp(e.term)}\\b`, 'i');
    if (re.test(rest)) {
      rest = rest.replace(re, ' ');
      if (!seenPlain.has(e.plain)) {
        seenPlain.add(e.plain);
        found.push(e);
      }
    }
  }
  return found;
}
