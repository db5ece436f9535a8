// Seed data: public pilgrim albergues along the Camino Francés, loaded on first start. Pure data.
// Names, towns and coordinates are of the real albergues (coordinates rounded to ~100 m); bed counts
// and nightly prices are indicative, as published around 2024 (rounded), not a live source: check
// them before relying on them. Prices are per bed and night, in euro cents.
import type { RegisterAlbergue } from './albergue.js';

export type AlbergueSeed = Omit<RegisterAlbergue['data'], 'now'>;

const route = 'Camino Francés';
const eur = (amount_minor: number) => ({ amount_minor, currency: 'EUR' });

export const CAMINO_FRANCES_SEED: readonly AlbergueSeed[] = [
  {
    albergue_id: 'roncesvalles-colegiata',
    name: 'Albergue de Peregrinos de la Real Colegiata de Roncesvalles',
    town: 'Roncesvalles',
    route,
    location: { lat: 43.0093, lon: -1.3196 },
    beds: 183,
    nightly_price: eur(1400),
  },
  {
    albergue_id: 'pamplona-jesus-y-maria',
    name: 'Albergue de Peregrinos Jesús y María',
    town: 'Pamplona',
    route,
    location: { lat: 42.8177, lon: -1.6441 },
    beds: 112,
    nightly_price: eur(1300),
  },
  {
    albergue_id: 'logrono-municipal',
    name: 'Albergue de Peregrinos de Logroño',
    town: 'Logroño',
    route,
    location: { lat: 42.4671, lon: -2.4436 },
    beds: 88,
    nightly_price: eur(1000),
  },
  {
    albergue_id: 'santo-domingo-casa-del-santo',
    name: 'Albergue de Peregrinos Casa del Santo',
    town: 'Santo Domingo de la Calzada',
    route,
    location: { lat: 42.4406, lon: -2.9535 },
    beds: 217,
    nightly_price: eur(1300),
  },
  {
    albergue_id: 'burgos-casa-del-cubo',
    name: 'Albergue Municipal de Peregrinos Casa del Cubo',
    town: 'Burgos',
    route,
    location: { lat: 42.3417, lon: -3.7061 },
    beds: 150,
    nightly_price: eur(1000),
  },
  {
    albergue_id: 'leon-santa-maria-de-carbajalas',
    name: 'Albergue de Peregrinos Santa María de Carbajalas',
    town: 'León',
    route,
    location: { lat: 42.5961, lon: -5.5668 },
    beds: 132,
    nightly_price: eur(1000),
  },
  {
    albergue_id: 'o-cebreiro-xunta',
    name: 'Albergue de Peregrinos de O Cebreiro',
    town: 'O Cebreiro',
    route,
    location: { lat: 42.7075, lon: -7.0434 },
    beds: 104,
    nightly_price: eur(1000),
  },
  {
    albergue_id: 'santiago-seminario-menor',
    name: 'Albergue Seminario Menor',
    town: 'Santiago de Compostela',
    route,
    location: { lat: 42.8823, lon: -8.5346 },
    beds: 177,
    nightly_price: eur(1700),
  },
];
